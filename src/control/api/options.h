// Tunables of the control plane's routes and sweeper. `vox populi serve` fills them from the
// [mesh.control] configuration (docs/config.md); the defaults here are the documented defaults.
#pragma once

#include <cstdint>
#include <string>

#include "dispatch/options.h"
#include "mesh/validate.h"

namespace populi::control {

// The dispatch tunables (liveness, lease TTL, sweeper) are the base; the rest are the routes'.
struct ControlOptions : dispatch::Options {
  std::string scope_id;  // non-empty → join/heartbeat must carry the same scope_id (403)
  std::string version;   // binary version reported by /health and /version
  std::string wire_version = "1";

  int64_t inbox_cap = 50'000;          // pending rows per receiver; more → 429
  int64_t a2a_claim_ttl_ms = 120'000;  // default claim duration; clamped 1 s … 1 h
  int64_t long_poll_max_ms = 30'000;   // cap on an inbox request's wait_ms

  // Bootstrap: a one-time token exchanged for the mesh token (both secrets; never logged).
  std::string bootstrap_token;
  int64_t bootstrap_expires_ms = 0;  // 0 = never expires
  std::string mesh_token;

  mesh::Limits limits;
};

// Longest maintenance window a `for_ms` may ask for (7 days).
inline constexpr int64_t kMaxMaintenanceForMs = 7LL * 86'400'000;
// Bounds every lease and claim duration is clamped to.
inline constexpr int64_t kMinLeaseMs = 1'000;
inline constexpr int64_t kMaxLeaseMs = 3'600'000;

}  // namespace populi::control
