// Tunables of the control plane's routes and sweeper. `vox populi serve` fills them from the
// [mesh.control] configuration (docs/config.md); the defaults here are the documented defaults.
#pragma once

#include <cstdint>
#include <string>

#include "mesh/validate.h"

namespace populi::control {

struct ControlOptions {
  std::string scope_id;  // non-empty → join/heartbeat must carry the same scope_id (403)
  std::string version;   // binary version reported by /health and /version
  std::string wire_version = "1";

  // Liveness: a node is suspect after heartbeat_ms × suspect_after without a heartbeat and down
  // after heartbeat_ms × down_after, judged on the control plane's clock.
  int64_t heartbeat_ms = 2'000;
  int suspect_after = 3;
  int down_after = 5;

  int64_t exec_lease_ttl_ms = 15'000;       // default TTL; every TTL is clamped 1 s … 1 h
  int64_t inbox_cap = 50'000;               // pending rows per receiver; more → 429
  int64_t a2a_claim_ttl_ms = 120'000;       // default claim duration; clamped 1 s … 1 h
  int a2a_max_deliveries = 10;              // claims of one row before it is dead-lettered
  int64_t long_poll_max_ms = 30'000;        // cap on an inbox request's wait_ms
  int64_t retention_ms = 7LL * 86'400'000;  // acked rows, ended leases, events older than this go
  int64_t sweep_interval_ms = 1'000;        // background sweeper period (real time)
  int64_t liveness_flush_ms = 5'000;        // how often heartbeat times are written to the store

  // Bootstrap: a one-time token exchanged for the mesh token (both secrets; never logged).
  std::string bootstrap_token;
  int64_t bootstrap_expires_ms = 0;  // 0 = never expires
  std::string mesh_token;

  mesh::Limits limits;

  int64_t suspect_ms() const { return heartbeat_ms * suspect_after; }
  int64_t down_ms() const { return heartbeat_ms * down_after; }
};

// Longest maintenance window a `for_ms` may ask for (7 days).
inline constexpr int64_t kMaxMaintenanceForMs = 7LL * 86'400'000;
// Bounds every lease and claim duration is clamped to.
inline constexpr int64_t kMinLeaseMs = 1'000;
inline constexpr int64_t kMaxLeaseMs = 3'600'000;

}  // namespace populi::control
