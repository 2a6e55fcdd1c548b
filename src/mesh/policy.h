// Rules over the mesh vocabulary that more than one module applies: who may take which work
// (A2A claims and task placement use the same rule), and whether a node is in maintenance.
#pragma once

#include <cstdint>

#include <string>

#include "mesh/task.h"
#include "mesh/types.h"

namespace populi::mesh {

// Whether work of `privacy` may run on `node` (MESH-009, MESH-134; docs/vocabulary.md):
// public work goes anywhere (trusted_only still needs a trusted or probation tier); a public
// donor takes public work only; trusted_only needs a tier other than new or degraded.
bool PrivacyAllows(PrivacyClass privacy, const NodeRecord& node);

// Whether `node`'s donation policy lets it run `spec`: "" when it does, else why not (one
// line naming the rule). The node's own operator's work is always accepted.
std::string DonationRefusal(const NodeRecord& node, const TaskSpec& spec);

// Whether `node` may run `spec` as far as its secrets go: a task that names secrets runs only on
// its submitter or on a node that reports a pairing with the submitter (NodeRecord::paired_with),
// since only there can the submitter's agent seal them (docs/secrets.md).
bool PairingAllows(const NodeRecord& node, const TaskSpec& spec);

// Maintenance is on and its window (0 = open-ended) has not ended at `now_ms`.
bool InMaintenance(const NodeRecord& node, int64_t now_ms);

}  // namespace populi::mesh
