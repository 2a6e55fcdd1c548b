#include "control/api/engine_load.h"

#include "mesh/inference_json.h"
#include "mesh/json.h"

namespace populi::control {
namespace {

constexpr char kEngineLoadNs[] = "inference.load";

}  // namespace

void RecordEngineLoad(ApiContext& ctx, const std::string& node_id,
                      const std::vector<mesh::EngineLoad>& loads, int64_t now_ms) {
  using Action = inference::EngineLoadWrites::Action;
  const Action action = ctx.engine_load_writes.Next(node_id, loads, now_ms);
  if (action == Action::kNone) return;
  std::string row;
  if (action == Action::kWrite)
    row = mesh::Serialize(mesh::ToJson(ctx.engine_load_writes.Row(node_id, loads, now_ms)));
  // Synchronous (group commit): only a change or a keepalive writes, and the store's thread
  // never calls back into a context that may be gone.
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    if (row.empty()) return txn.DeleteKv(kEngineLoadNs, node_id);
    return txn.PutKv(kEngineLoadNs, node_id, row);
  });
  if (!s.ok()) ctx.engine_load_writes.Failed(node_id);
}

Result<std::map<std::string, mesh::NodeEngineLoad>> ReadEngineLoads(ApiContext& ctx) {
  POPULI_ASSIGN_OR_RETURN(auto rows, ctx.store.ListKv(kEngineLoadNs));
  std::map<std::string, mesh::NodeEngineLoad> out;
  for (const auto& [id, text] : rows) {
    auto v = mesh::ParseJson(text);
    if (!v.ok()) continue;
    auto row = mesh::NodeEngineLoadFromJson(*v);
    if (row.ok() && row->node_id == id) out.emplace(id, std::move(*row));
  }
  return out;
}

Status ForgetEngineLoad(store::WriteTxn& txn, const std::string& node_id) {
  return txn.DeleteKv(kEngineLoadNs, node_id);
}

}  // namespace populi::control
