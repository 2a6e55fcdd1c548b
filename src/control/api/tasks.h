// Task bookkeeping on the control plane (docs/tasks.md): placement of pending tasks, lost
// attempts, cancellation, and the checks every agent report passes.
//
// Placement is serialised by TaskPlacer's mutex: it reads nodes and active reservations, asks the
// scheduler, and then — in ONE store transaction — grants the attempt's exec lease to the chosen
// node, records the attempt and delivers the `task_submit` message to that node's inbox. The
// transaction re-reads the task, so a task cancelled or placed meanwhile is left alone.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "control/api/context.h"
#include "mesh/task.h"
#include "store/mesh_store.h"

namespace populi::control {

// Scope key of a task's exec leases: "task:<id>".
std::string TaskScope(const std::string& task_id);
// The task id of a "task:<id>" scope; nullopt for other scopes.
std::optional<std::string> TaskIdOfScope(const std::string& scope_key);
// Long-poll / stream topic announcing any change of one task.
std::string TaskTopic(const std::string& task_id);
// Inbox topic of a receiver (the same one A2A deliveries announce).
std::string NodeInboxTopic(const std::string& receiver);

// Inside a transaction: the attempt holding `lease_id` of task `task_id` is lost (lease expired,
// revoked, node down); the task goes back to pending, or fails when no attempt is left. Does
// nothing when that attempt already ended. Appends a `task.attempt_lost` event.
Status MarkAttemptLost(store::WriteTxn& txn, const std::string& task_id,
                       const std::string& lease_id, const std::string& why, int64_t now_ms);

class TaskPlacer {
 public:
  explicit TaskPlacer(ApiContext& ctx) : ctx_(ctx) {}

  // Tries to place every pending task (priority first, then age). Tasks that fit nowhere keep
  // their pending_reason up to date and fail after the placement timeout. Returns how many were
  // placed.
  Result<int> PlacePending();

 private:
  ApiContext& ctx_;
  std::mutex mu_;
};

// How long a task may stay pending without any node fitting before it fails.
inline constexpr int64_t kPlacementTimeoutMs = 10 * 60 * 1000;

}  // namespace populi::control
