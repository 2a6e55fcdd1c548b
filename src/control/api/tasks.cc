#include "control/api/tasks.h"

#include <algorithm>
#include <boost/json.hpp>

#include "mesh/task_json.h"
#include "scheduler/scheduler.h"

namespace populi::control {
namespace json = boost::json;

std::string TaskScope(const std::string& task_id) {
  return "task:" + task_id;
}

std::optional<std::string> TaskIdOfScope(const std::string& scope_key) {
  if (scope_key.rfind("task:", 0) != 0) return std::nullopt;
  return scope_key.substr(5);
}

std::string TaskTopic(const std::string& task_id) {
  return "task:" + task_id;
}

std::string NodeInboxTopic(const std::string& receiver) {
  return "inbox:" + receiver;
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
      .AppendEvent(MakeEvent(now_ms, "task.attempt_lost", task_id,
                             {{"attempt", a.number},
                              {"node_id", a.node_id},
                              {"lease_id", lease_id},
                              {"why", why},
                              {"task_state", mesh::ToString(task->state)}}))
      .status();
}

namespace {

std::vector<scheduler::Reservation> ReservationsOf(const mesh::Task& t) {
  if (t.attempts.empty()) return {};
  const mesh::Attempt& a = t.attempts.back();
  if (a.state != mesh::AttemptState::kPlaced && a.state != mesh::AttemptState::kRunning) return {};
  scheduler::Reservation r;
  r.task_id = t.id;
  r.gpu_uuids = a.gpu_uuids;
  r.gpu_memory_bytes = t.spec.resources.gpu_memory_bytes;
  r.cpus = t.spec.resources.cpus;
  r.memory_bytes = t.spec.resources.memory_bytes;
  return {r};
}

// The task_submit payload an agent needs to run the attempt.
std::string SubmitPayload(const mesh::Task& t, const mesh::Attempt& a, int64_t ttl_ms) {
  json::array gpus;
  for (const auto& g : a.gpu_uuids) gpus.emplace_back(g);
  return json::serialize(json::object{{"task_id", t.id},
                                      {"attempt", a.number},
                                      {"lease_id", a.lease_id},
                                      {"fencing_token", a.fencing_token},
                                      {"lease_ttl_ms", ttl_ms},
                                      {"gpu_uuids", std::move(gpus)},
                                      {"spec", mesh::ToJson(t.spec)}});
}

}  // namespace

Result<int> TaskPlacer::PlacePending() {
  std::lock_guard lock(mu_);
  store::TaskQuery query;
  query.active_only = true;
  query.limit = 100'000;
  POPULI_ASSIGN_OR_RETURN(auto active, ctx_.store.ListTasks(query));
  std::vector<const mesh::Task*> pending;
  for (const auto& t : active)
    if (t.state == mesh::TaskState::kPending) pending.push_back(&t);
  if (pending.empty()) return 0;
  std::sort(pending.begin(), pending.end(), [](const mesh::Task* a, const mesh::Task* b) {
    if (a->spec.priority != b->spec.priority) return a->spec.priority > b->spec.priority;
    return a->created_ms < b->created_ms;
  });

  const int64_t now = ctx_.NowMs();
  POPULI_ASSIGN_OR_RETURN(auto stored_nodes, ctx_.store.ListNodes());
  std::vector<mesh::NodeRecord> nodes;
  nodes.reserve(stored_nodes.size());
  for (auto& n : stored_nodes) nodes.push_back(WithLiveness(ctx_, std::move(n), now));
  std::vector<scheduler::Candidate> candidates(nodes.size());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) {
    candidates[i].node = &nodes[i];
    index[nodes[i].id] = i;
  }
  for (const auto& t : active) {
    if (t.attempts.empty()) continue;
    auto it = index.find(t.attempts.back().node_id);
    if (it == index.end()) continue;
    for (auto& r : ReservationsOf(t)) candidates[it->second].reservations.push_back(std::move(r));
  }

  int placed = 0;
  const int64_t ttl = ctx_.options.exec_lease_ttl_ms;
  for (const mesh::Task* task : pending) {
    mesh::PlacementDecision d = scheduler::Place(task->spec, candidates, now);
    std::optional<mesh::Task> updated;
    Status s = ctx_.store.Write([&](store::WriteTxn& txn) -> Status {
      POPULI_ASSIGN_OR_RETURN(auto current, txn.GetTask(task->id));
      if (!current || current->state != mesh::TaskState::kPending) return Status::Ok();
      if (!d.placed) {
        const bool timed_out = now - current->created_ms >= kPlacementTimeoutMs;
        if (!timed_out && current->pending_reason == d.summary) return Status::Ok();
        current->pending_reason = d.summary;
        current->updated_ms = now;
        if (timed_out) {
          current->state = mesh::TaskState::kFailed;
          current->ended_ms = now;
          POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "task.placement_timeout",
                                                           current->id, {{"reason", d.summary}}))
                                     .status());
        }
        POPULI_RETURN_IF_ERROR(txn.PutTask(*current));
        updated = std::move(current);
        return Status::Ok();
      }
      POPULI_ASSIGN_OR_RETURN(auto lease,
                              txn.GrantLease(TaskScope(current->id), d.node_id, ttl, now));
      mesh::Attempt a;
      a.number = static_cast<int32_t>(current->attempts.size()) + 1;
      a.node_id = d.node_id;
      a.lease_id = lease.lease_id;
      a.fencing_token = lease.fencing_token;
      a.dispatch = !current->attempts.empty()                     ? mesh::DispatchKind::kFallback
                   : d.node_id == current->spec.submitter_node_id ? mesh::DispatchKind::kLocal
                                                                  : mesh::DispatchKind::kRemote;
      a.state = mesh::AttemptState::kPlaced;
      a.placed_ms = now;
      a.gpu_uuids = d.gpu_uuids;
      a.placement_summary = d.summary;
      current->attempts.push_back(a);
      current->state = mesh::TaskState::kPlaced;
      current->pending_reason.clear();
      current->updated_ms = now;
      POPULI_RETURN_IF_ERROR(txn.PutTask(*current));
      mesh::NewMessage msg;
      msg.sender = "control-plane";
      msg.receiver = mesh::TaskInboxFor(d.node_id);
      msg.message_type = "task_submit";
      msg.payload = SubmitPayload(*current, a, ttl);
      msg.idempotency_key = current->id + ":" + std::to_string(a.number);
      msg.priority = current->spec.priority;
      msg.privacy_class = current->spec.privacy_class;
      msg.traceparent = current->spec.traceparent;
      POPULI_RETURN_IF_ERROR(txn.Deliver(msg, now).status());
      POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "task.placed", current->id,
                                                       {{"attempt", a.number},
                                                        {"node_id", a.node_id},
                                                        {"dispatch", mesh::ToString(a.dispatch)},
                                                        {"summary", d.summary}}))
                                 .status());
      updated = std::move(current);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    if (!updated) continue;
    ctx_.Notify(TaskTopic(updated->id));
    if (updated->state == mesh::TaskState::kPlaced) {
      ++placed;
      ctx_.Notify(NodeInboxTopic(mesh::TaskInboxFor(d.node_id)));
      // Later tasks in this pass see the capacity this one took.
      auto it = index.find(d.node_id);
      if (it != index.end()) {
        for (auto& r : ReservationsOf(*updated))
          candidates[it->second].reservations.push_back(std::move(r));
      }
    }
  }
  return placed;
}

}  // namespace populi::control
