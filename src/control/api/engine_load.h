// What nodes' engines say of their own load (docs/inference.md, "Engine truth"): carried by
// heartbeats, kept in the store's kv table ("inference.load" / node id) so every replica on the
// store routes by it, written as inference::EngineLoadWrites says (on change, plus a keepalive).
// No event and no inventory generation: the row is routing input only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "control/api/context.h"
#include "mesh/inference.h"
#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::control {

// Records the loads a heartbeat of `node_id` carried, when due. A failed write is not the
// heartbeat's failure: it is retried on the next heartbeat.
void RecordEngineLoad(ApiContext& ctx, const std::string& node_id,
                      const std::vector<mesh::EngineLoad>& loads, int64_t now_ms);

// The stored loads of every node, by node id (rows this binary cannot read are left out).
Result<std::map<std::string, mesh::NodeEngineLoad>> ReadEngineLoads(ApiContext& ctx);

// Drops `node_id`'s row (the node left).
Status ForgetEngineLoad(store::WriteTxn& txn, const std::string& node_id);

}  // namespace populi::control
