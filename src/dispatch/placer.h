// Placement of pending tasks (docs/scheduler.md, docs/tasks.md).
//
// One pass reads the active tasks, the nodes (with live liveness laid over them) and the
// reservations of placed and running attempts, asks the scheduler for each pending task in
// priority-then-age order, and records each decision in ONE store transaction: for a placement,
// the attempt's exec lease (fresh fencing token), the attempt row and the `task_submit` message
// in the node's task inbox; for no fit, the pending reason (or failure after
// kPlacementTimeoutMs). The transaction re-reads the task, so a task cancelled or placed
// meanwhile is left alone.
//
// Across replicas on one store: each decision's transaction first takes the store's placement
// lock (WriteTxn::LockPlacement: a PostgreSQL advisory lock), then compares the placement epoch
// (a counter in kv that every placement moves) with the one its board was read at; when another
// replica placed since, the reservations are re-read before deciding. So no node's free capacity
// is booked twice, by one replica or several. Passes within one process are serialised by a
// mutex; thread-safe.
#pragma once

#include <mutex>

#include "dispatch/liveness.h"
#include "dispatch/options.h"
#include "dispatch/scopes.h"
#include "obs/span.h"
#include "store/mesh_store.h"
#include "util/clock.h"
#include "util/status.h"

namespace populi::dispatch {

class Placer {
 public:
  // Every reference outlives the Placer.
  Placer(store::MeshStore& store, const Options& options, const Clock& clock,
         const Liveness& liveness, const Announce& announce)
      : store_(store), options_(options), clock_(clock), liveness_(liveness), announce_(announce) {}

  // Tries to place every pending task. Returns how many were placed.
  Result<int> PlacePending();
  // Where placement spans go (a task.place span with lease.grant and a2a.deliver children, in
  // the task's trace); null records none. Set before the first pass.
  void set_spans(obs::SpanSink* spans) { spans_ = spans; }

 private:
  store::MeshStore& store_;
  const Options& options_;
  const Clock& clock_;
  const Liveness& liveness_;
  const Announce& announce_;
  obs::SpanSink* spans_ = nullptr;
  std::mutex mu_;
};

}  // namespace populi::dispatch
