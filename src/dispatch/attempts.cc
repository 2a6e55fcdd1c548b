#include "dispatch/attempts.h"

#include <algorithm>
#include <boost/json.hpp>

#include "dispatch/scopes.h"
#include "mesh/json.h"

namespace populi::dispatch {

Result<mesh::Task> CheckReporter(store::WriteTxn& txn, const std::string& task_id,
                                 const mesh::AttemptReport& claim, int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(auto task, txn.GetTask(task_id));
  if (!task) {
    return NotFound("task " + task_id + " does not exist",
                    "this attempt's task is gone; stop its process");
  }
  auto refuse = [&](const std::string& why) {
    return Status(Code::kConflict, "report for task " + task_id + " refused: " + why,
                  "this attempt no longer owns the task; stop its process");
  };
  if (task->attempts.empty()) return refuse("the task has no attempt");
  const mesh::Attempt& a = task->attempts.back();
  if (a.number != claim.attempt) {
    return refuse("attempt " + std::to_string(claim.attempt) + " is not the current attempt " +
                  std::to_string(a.number));
  }
  if (a.node_id != claim.node_id || a.lease_id != claim.lease_id ||
      a.fencing_token != claim.fencing_token) {
    return refuse("node, lease or fencing token does not match the current attempt");
  }
  if (a.state != mesh::AttemptState::kPlaced && a.state != mesh::AttemptState::kRunning) {
    return refuse("attempt " + std::to_string(a.number) + " already ended (" +
                  std::string(mesh::ToString(a.state)) + ")");
  }
  POPULI_ASSIGN_OR_RETURN(auto lease, txn.GetLease(claim.lease_id));
  if (!lease || mesh::IsTerminal(lease->state) || lease->expires_ms <= now_ms)
    return refuse("the exec lease is no longer live");
  return std::move(*task);
}

Status MarkAttemptLost(store::WriteTxn& txn, const std::string& task_id,
                       const std::string& lease_id, const std::string& why, int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(auto task, txn.GetTask(task_id));
  if (!task || mesh::IsTerminal(task->state) || task->attempts.empty()) return Status::Ok();
  mesh::Attempt& a = task->attempts.back();
  if (a.lease_id != lease_id ||
      (a.state != mesh::AttemptState::kPlaced && a.state != mesh::AttemptState::kRunning)) {
    return Status::Ok();
  }
  a.state = mesh::AttemptState::kLost;
  a.ended_ms = now_ms;
  a.error = why;
  task->updated_ms = now_ms;
  if (static_cast<int32_t>(task->attempts.size()) >= task->spec.max_attempts) {
    task->state = mesh::TaskState::kFailed;
    task->ended_ms = now_ms;
    task->pending_reason.clear();
  } else {
    task->state = mesh::TaskState::kPending;
    task->pending_reason = "attempt " + std::to_string(a.number) + " lost (" + why + ")";
  }
  POPULI_RETURN_IF_ERROR(txn.PutTask(*task));
  return txn
      .AppendEvent(mesh::MakeEvent(now_ms, "task.attempt_lost", task_id,
                                   {{"attempt", a.number},
                                    {"node_id", a.node_id},
                                    {"lease_id", lease_id},
                                    {"why", why},
                                    {"task_state", mesh::ToString(task->state)}}))
      .status();
}

Result<int> LoseAttemptsHeldBy(store::WriteTxn& txn, const std::vector<mesh::ExecLease>& live,
                               const std::vector<std::string>& holders, std::string_view why,
                               int64_t now_ms) {
  int lost = 0;
  const std::string reason(why);
  for (const auto& l : live) {
    auto task_id = TaskIdOfScope(l.scope_key);
    if (!task_id || std::find(holders.begin(), holders.end(), l.holder_node_id) == holders.end())
      continue;
    if (!txn.RevokeLease(l.lease_id, now_ms).ok()) continue;  // ended meanwhile
    POPULI_RETURN_IF_ERROR(txn.AppendEvent(mesh::MakeEvent(now_ms, "lease.revoked", l.lease_id,
                                                           {{"scope_key", l.scope_key},
                                                            {"holder_node_id", l.holder_node_id},
                                                            {"by", reason}}))
                               .status());
    POPULI_RETURN_IF_ERROR(MarkAttemptLost(txn, *task_id, l.lease_id, reason, now_ms));
    ++lost;
  }
  return lost;
}

}  // namespace populi::dispatch
