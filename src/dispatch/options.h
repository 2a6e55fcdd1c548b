// Tunables of dispatch: liveness judgement, exec leases of task attempts, and the sweeper's
// passes. `vox populi serve` fills them from [mesh.control] (docs/config.md); the defaults here
// are the documented defaults.
#pragma once

#include <cstdint>
#include <string>

namespace populi::dispatch {

struct Options {
  // Liveness: a node is suspect after heartbeat_ms × suspect_after without a heartbeat and down
  // after heartbeat_ms × down_after, judged on the control plane's clock.
  int64_t heartbeat_ms = 2'000;
  int suspect_after = 3;
  int down_after = 5;
  // A node whose agent's held connection drops without a leave is suspect at once and down after
  // this grace unless it is heard from again (a restarting agent that reconnects in time).
  int64_t connection_drop_grace_ms = 2'000;

  int64_t exec_lease_ttl_ms = 15'000;       // default TTL of an attempt's exec lease
  int a2a_max_deliveries = 10;              // claims of one row before it is dead-lettered
  int64_t retention_ms = 7LL * 86'400'000;  // acked rows, ended leases, events older than this go
  int64_t sweep_interval_ms = 1'000;        // background sweeper period (real time)
  int64_t liveness_flush_ms = 5'000;        // how often heartbeat times are written to the store

  // The sweeper role (docs/store.md, Several replicas): one replica on the store runs the
  // sweeper's passes, under a lease in the database renewed every pass; another replica takes
  // it over at most this long after its holder stopped renewing.
  int64_t sweeper_role_ttl_ms = 5'000;
  // This replica's name as the role's holder; empty: a random one per process.
  std::string replica_id;

  int64_t suspect_ms() const { return heartbeat_ms * suspect_after; }
  int64_t down_ms() const { return heartbeat_ms * down_after; }
};

// How long a task may stay pending without any node fitting before it fails.
inline constexpr int64_t kPlacementTimeoutMs = 10 * 60 * 1000;
// The role whose holder runs the sweeper's passes.
inline constexpr const char* kSweeperRole = "sweeper";
// How often the sweeper applies retention.
inline constexpr int64_t kRetentionIntervalMs = 60'000;

}  // namespace populi::dispatch
