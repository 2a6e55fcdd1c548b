// The control plane's routes and background work, over one MeshStore.
//
// ControlPlane registers every route (control/api/*) on a Router that the HTTP server then
// serves, keeps node liveness in memory (heartbeats cost no disk write; last-seen times are
// persisted in batches; after a restart every node gets one down_after of grace), judges
// alive → suspect → down on the given clock and records each transition as an event, and runs a
// sweeper thread that expires exec leases, returns lapsed A2A claims to their inboxes, clears
// maintenance windows that ended, and applies retention.
//
// Lifetime: the store and clock outlive the ControlPlane; the ControlPlane outlives the server
// serving its router (handlers refer to it).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "control/api/context.h"
#include "control/api/options.h"
#include "control/api/tasks.h"
#include "control/http/http.h"
#include "store/mesh_store.h"
#include "util/clock.h"
#include "util/status.h"

namespace populi::control {

struct SweepReport {
  int state_changes = 0;
  int leases_expired = 0;
  int claims_requeued = 0;
  int dead_lettered = 0;
  int maintenance_cleared = 0;
  int nodes_held = 0;     // kept at suspect by the anti-cascade rule (Liveness::Judge)
  int attempts_lost = 0;  // task attempts whose lease expired or whose node went down
  int tasks_placed = 0;
};

class ControlPlane {
 public:
  // Loads the node table into memory (liveness grace starts now).
  ControlPlane(store::MeshStore& store, ControlOptions options, const Clock& clock);
  ~ControlPlane();  // Stop()
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Adds every route to `router`.
  void RegisterRoutes(http::Router& router);
  // Where deliveries and state changes are announced (the server's notifier); may be null.
  void SetNotifier(http::Notifier* notifier);

  // Starts the sweeper thread (every options.sweep_interval_ms of real time).
  void Start();
  // Stops the sweeper and persists pending liveness. Idempotent.
  void Stop();

  // One sweeper pass at the clock's current time (tests call it directly).
  Result<SweepReport> SweepOnce();
  // The sweeper's real-time gap since its previous pass. A gap far past the sweep interval means
  // this process was paused: nodes get the gap as grace and a control.paused event is recorded.
  Status NoteSweepGap(int64_t elapsed_ms);
  // Writes buffered last-seen times to the store.
  Status FlushLiveness();

  const ControlOptions& options() const { return options_; }

 private:
  void SweeperLoop();

  ControlOptions options_;
  ApiContext ctx_;
  TaskPlacer placer_{ctx_};
  int64_t last_flush_ms_ = 0;
  int64_t last_retention_ms_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace populi::control
