// Rules over the mesh vocabulary that more than one module applies: who may take which work
// (A2A claims and task placement use the same rule), and whether a node is in maintenance.
#pragma once

#include <cstdint>

#include "mesh/types.h"

namespace populi::mesh {

// Whether work of `privacy` may run on `node` (MESH-009, MESH-134; docs/vocabulary.md):
// public work goes anywhere (trusted_only still needs a trusted or probation tier); a public
// donor takes public work only; trusted_only needs a tier other than new or degraded.
bool PrivacyAllows(PrivacyClass privacy, const NodeRecord& node);

// Maintenance is on and its window (0 = open-ended) has not ended at `now_ms`.
bool InMaintenance(const NodeRecord& node, int64_t now_ms);

}  // namespace populi::mesh
