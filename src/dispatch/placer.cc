#include "dispatch/placer.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include "mesh/json.h"
#include "mesh/task_json.h"
#include "obs/metrics.h"
#include "scheduler/scheduler.h"

namespace populi::dispatch {
namespace {

// The capacity an attempt that is placed or running holds on its node.
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

// The nodes as the scheduler sees them, each with the reservations held on it.
class Board {
 public:
  Board(std::vector<mesh::NodeRecord> nodes, const std::vector<mesh::Task>& active)
      : nodes_(std::move(nodes)), candidates_(nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      candidates_[i].node = &nodes_[i];
      index_[nodes_[i].id] = i;
    }
    for (const auto& t : active)
      if (!t.attempts.empty()) Reserve(t.attempts.back().node_id, t);
  }

  const std::vector<scheduler::Candidate>& candidates() const { return candidates_; }

  // Later tasks in the same pass see the capacity `task` took on `node_id`.
  void Reserve(const std::string& node_id, const mesh::Task& task) {
    auto it = index_.find(node_id);
    if (it == index_.end()) return;
    for (auto& r : ReservationsOf(task))
      candidates_[it->second].reservations.push_back(std::move(r));
  }

 private:
  std::vector<mesh::NodeRecord> nodes_;  // candidates_ point into it: never resized
  std::vector<scheduler::Candidate> candidates_;
  std::map<std::string, size_t> index_;
};

std::vector<const mesh::Task*> PendingByPriority(const std::vector<mesh::Task>& active) {
  std::vector<const mesh::Task*> pending;
  for (const auto& t : active)
    if (t.state == mesh::TaskState::kPending) pending.push_back(&t);
  std::sort(pending.begin(), pending.end(), [](const mesh::Task* a, const mesh::Task* b) {
    if (a->spec.priority != b->spec.priority) return a->spec.priority > b->spec.priority;
    return a->created_ms < b->created_ms;
  });
  return pending;
}

// A task naming secrets is not placed while its submitter is down or gone: only the submitter's
// agent can seal them, so an attempt started now would only wait for them and fail
// (docs/secrets.md). nullopt when the task may be placed.
std::optional<mesh::PlacementDecision> SubmitterAway(const mesh::TaskSpec& spec,
                                                     const std::vector<mesh::NodeRecord>& nodes) {
  if (spec.secret_names.empty() || spec.submitter_node_id.empty()) return std::nullopt;
  auto it = std::find_if(nodes.begin(), nodes.end(),
                         [&](const mesh::NodeRecord& n) { return n.id == spec.submitter_node_id; });
  if (it != nodes.end() && it->state != mesh::NodeState::kDown &&
      it->state != mesh::NodeState::kLeft)
    return std::nullopt;
  mesh::PlacementDecision d;
  d.summary = "the submitter " + spec.submitter_node_id + " is " +
              (it == nodes.end() ? std::string("not a node of the mesh")
                                 : std::string(mesh::ToString(it->state))) +
              ": its agent must be up to hand over the task's secrets; waiting for it";
  return d;
}

// No node fits: keep the reason current; fail the task once it has waited too long.
Status RecordNoFit(store::WriteTxn& txn, mesh::Task& task, const mesh::PlacementDecision& d,
                   int64_t now, bool* changed) {
  const bool timed_out = now - task.created_ms >= kPlacementTimeoutMs;
  if (!timed_out && task.pending_reason == d.summary) return Status::Ok();
  task.pending_reason = d.summary;
  task.updated_ms = now;
  if (timed_out) {
    task.state = mesh::TaskState::kFailed;
    task.ended_ms = now;
    POPULI_RETURN_IF_ERROR(txn.AppendEvent(mesh::MakeEvent(now, "task.placement_timeout", task.id,
                                                           {{"reason", d.summary}}))
                               .status());
  }
  *changed = true;
  return txn.PutTask(task);
}

mesh::DispatchKind KindOf(const mesh::Task& task, const std::string& node_id) {
  if (!task.attempts.empty()) return mesh::DispatchKind::kFallback;
  return node_id == task.spec.submitter_node_id ? mesh::DispatchKind::kLocal
                                                : mesh::DispatchKind::kRemote;
}

// What a placement wrote, for its spans.
struct Placed {
  mesh::ExecLease lease;
  int64_t message_id = 0;
  int32_t attempt = 0;
  std::string dispatch;
};

// The decision placed the task: lease, attempt, assignment message and events, together. The
// message carries `traceparent` (the delivery's span), so the claiming agent continues the trace.
Status RecordPlacement(store::WriteTxn& txn, mesh::Task& task, const mesh::PlacementDecision& d,
                       int64_t ttl_ms, int64_t now, const std::string& traceparent,
                       Placed& placed) {
  POPULI_ASSIGN_OR_RETURN(auto lease, txn.GrantLease(TaskScope(task.id), d.node_id, ttl_ms, now));
  placed.lease = lease;
  mesh::Attempt a;
  a.number = static_cast<int32_t>(task.attempts.size()) + 1;
  a.node_id = d.node_id;
  a.lease_id = lease.lease_id;
  a.fencing_token = lease.fencing_token;
  a.dispatch = KindOf(task, d.node_id);
  a.state = mesh::AttemptState::kPlaced;
  a.placed_ms = now;
  a.gpu_uuids = d.gpu_uuids;
  a.placement_summary = d.summary;
  task.attempts.push_back(a);
  task.state = mesh::TaskState::kPlaced;
  task.pending_reason.clear();
  task.updated_ms = now;
  POPULI_RETURN_IF_ERROR(txn.PutTask(task));

  mesh::TaskAssignment assignment{task.id, a.number,    a.lease_id, a.fencing_token,
                                  ttl_ms,  a.gpu_uuids, task.spec};
  mesh::NewMessage msg;
  msg.sender = "control-plane";
  msg.receiver = mesh::TaskInboxFor(d.node_id);
  msg.message_type = "task_submit";
  msg.payload = mesh::Serialize(mesh::ToJson(assignment));
  msg.idempotency_key = task.id + ":" + std::to_string(a.number);
  msg.priority = task.spec.priority;
  msg.privacy_class = task.spec.privacy_class;
  msg.traceparent = traceparent;
  POPULI_ASSIGN_OR_RETURN(auto delivered, txn.Deliver(msg, now));
  placed.message_id = delivered.message_id;
  placed.attempt = a.number;
  placed.dispatch = std::string(mesh::ToString(a.dispatch));
  POPULI_RETURN_IF_ERROR(txn.AppendEvent(mesh::MakeEvent(now, "lease.granted", lease.lease_id,
                                                         {{"scope_key", lease.scope_key},
                                                          {"holder_node_id", d.node_id},
                                                          {"fencing_token", a.fencing_token},
                                                          {"ttl_ms", ttl_ms}}))
                             .status());
  return txn
      .AppendEvent(mesh::MakeEvent(now, "task.placed", task.id,
                                   {{"attempt", a.number},
                                    {"node_id", a.node_id},
                                    {"dispatch", mesh::ToString(a.dispatch)},
                                    {"summary", d.summary}}))
      .status();
}

// The spans of one placement, in the task's trace (the submit request's, from its spec): a
// task.place span with lease.grant and a2a.deliver children. Their ids exist before the write so
// the delivered message can carry the delivery span's context; they are recorded only when the
// task was placed (a pass that leaves a task pending records nothing).
class PlacementSpans {
 public:
  PlacementSpans(obs::SpanSink* sink, const std::string& task_traceparent)
      : sink_(sink), start_ns_(obs::UnixNanosNow()) {
    if (auto parent = obs::ParseTraceparent(task_traceparent); parent.ok()) parent_ = *parent;
    place_ = obs::ChildOf(parent_);
    grant_ = obs::ChildOf(place_);
    deliver_ = obs::ChildOf(place_);
  }
  std::string DeliveryTraceparent() const { return deliver_.Traceparent(); }

  void Record(const mesh::Task& task, const mesh::PlacementDecision& d, const Placed& p) const {
    if (sink_ == nullptr || (parent_.valid() && !parent_.sampled())) return;
    const int64_t end_ns = std::max(obs::UnixNanosNow(), start_ns_);
    obs::Span place = Make(place_, parent_, "task.place", end_ns);
    place.Set("vox.mesh.task_id", task.id)
        .Set("vox.mesh.node_id", d.node_id)
        .Set("vox.mesh.attempt", static_cast<int64_t>(p.attempt))
        .Set("vox.mesh.dispatch_kind", p.dispatch)
        .Set("vox.mesh.placement_summary", d.summary);
    obs::Span grant = Make(grant_, place_, "lease.grant", end_ns);
    grant.Set("vox.mesh.lease_id", p.lease.lease_id)
        .Set("vox.mesh.scope_key", p.lease.scope_key)
        .Set("vox.mesh.node_id", d.node_id)
        .Set("vox.mesh.fencing_token", p.lease.fencing_token);
    obs::Span deliver = Make(deliver_, place_, "a2a.deliver", end_ns);
    deliver.kind = obs::SpanKind::kProducer;
    deliver.Set("vox.mesh.message_id", p.message_id)
        .Set("vox.mesh.message_type", std::string("task_submit"))
        .Set("vox.mesh.peer_id", d.node_id)
        .Set("vox.mesh.privacy_class", std::string(mesh::ToString(task.spec.privacy_class)));
    sink_->Record(std::move(place));
    sink_->Record(std::move(grant));
    sink_->Record(std::move(deliver));
  }

 private:
  obs::Span Make(const obs::TraceContext& self, const obs::TraceContext& parent, std::string name,
                 int64_t end_ns) const {
    obs::Span s;
    s.trace_id = self.trace_id;
    s.span_id = self.span_id;
    if (parent.valid()) s.parent_span_id = parent.span_id;
    s.name = std::move(name);
    s.start_unix_ns = start_ns_;
    s.end_unix_ns = end_ns;
    s.service = "vox-control-plane";
    return s;
  }

  obs::SpanSink* sink_;
  int64_t start_ns_;
  obs::TraceContext parent_, place_, grant_, deliver_;
};

}  // namespace

namespace {

// Placement metrics (docs/metrics.md): decisions by outcome, why nodes were passed over, and
// how long a placed task waited since it was submitted.
void RecordDecisionMetrics(const mesh::PlacementDecision& d, const mesh::Task& task, int64_t now) {
  static obs::CounterFamily& decisions = obs::Registry::Default().Counters(
      "populi_placement_decisions_total",
      "Placement decisions that changed a pending task: placed, or left pending (no fit).",
      {"outcome"}, 4);
  static obs::CounterFamily& rejected = obs::Registry::Default().Counters(
      "populi_placement_rejected_nodes_total",
      "Nodes passed over by placement decisions that left a task pending, by reason code.",
      {"reason"}, 64);
  static obs::HistogramFamily& waited = obs::Registry::Default().Histograms(
      "populi_placement_latency_seconds",
      "Time from a task's submission to its placement (attempt: first, or retry).", {"attempt"},
      obs::LatencyBuckets(), 4);
  if (task.state == mesh::TaskState::kPlaced) {
    decisions.With({"placed"}).Inc();
    waited.With({task.attempts.size() <= 1 ? "first" : "retry"})
        .Observe(static_cast<double>(now - task.created_ms) / 1000.0);
    return;
  }
  decisions.With({"pending"}).Inc();
  for (const auto& [reason, nodes] : d.rejected) {
    rejected.With({reason}).Inc(static_cast<uint64_t>(std::max(nodes, 0)));
  }
}

}  // namespace

namespace {

// The placement epoch: how many placements every replica on the store recorded. A pass reads it
// with its board; a placement that finds it moved re-reads the reservations first.
constexpr const char* kPlacementKvNs = "dispatch";
constexpr const char* kPlacementEpochKey = "placement_epoch";

// 0 when absent or unreadable (then treated as moved when the pass read another value).
int64_t ParseEpoch(const std::optional<std::string>& value) {
  int64_t epoch = 0;
  if (value) std::from_chars(value->data(), value->data() + value->size(), epoch);
  return epoch;
}

Result<std::vector<mesh::Task>> ActiveTasks(store::MeshStore& store) {
  store::TaskQuery query;
  query.active_only = true;
  query.limit = 100'000;
  return store.ListTasks(query);
}

}  // namespace

Result<int> Placer::PlacePending() {
  std::lock_guard lock(mu_);
  // The epoch before the tasks: a placement committed in between only makes the board re-read.
  POPULI_ASSIGN_OR_RETURN(auto stored_epoch, store_.GetKv(kPlacementKvNs, kPlacementEpochKey));
  int64_t epoch = ParseEpoch(stored_epoch);
  POPULI_ASSIGN_OR_RETURN(auto active, ActiveTasks(store_));
  const std::vector<const mesh::Task*> pending = PendingByPriority(active);
  if (pending.empty()) return 0;

  const int64_t now = clock_.NowMs();
  POPULI_ASSIGN_OR_RETURN(auto stored_nodes, store_.ListNodes());
  std::vector<mesh::NodeRecord> nodes;
  nodes.reserve(stored_nodes.size());
  for (auto& n : stored_nodes) nodes.push_back(WithLiveness(liveness_, std::move(n), now));
  std::optional<Board> board;
  board.emplace(nodes, active);

  int placed = 0;
  for (const mesh::Task* task : pending) {
    const PlacementSpans spans(spans_, task->spec.traceparent);
    mesh::PlacementDecision d;
    std::optional<mesh::Task> updated;
    Placed wrote;
    int64_t next_epoch = epoch;
    POPULI_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) -> Status {
      // Every replica's placements queue here; what they reserved is re-read when they moved
      // the epoch since this board was read, so no free capacity is booked twice.
      POPULI_RETURN_IF_ERROR(txn.LockPlacement());
      POPULI_ASSIGN_OR_RETURN(auto current, txn.GetTask(task->id));
      if (!current || current->state != mesh::TaskState::kPending) return Status::Ok();
      POPULI_ASSIGN_OR_RETURN(auto in_txn, txn.GetKv(kPlacementKvNs, kPlacementEpochKey));
      next_epoch = ParseEpoch(in_txn);
      if (next_epoch != epoch) {
        POPULI_ASSIGN_OR_RETURN(auto fresh, ActiveTasks(store_));
        board.emplace(nodes, fresh);
      }
      auto away = SubmitterAway(current->spec, nodes);
      d = away ? std::move(*away) : scheduler::Place(current->spec, board->candidates(), now);
      bool changed = d.placed;
      POPULI_RETURN_IF_ERROR(d.placed
                                 ? RecordPlacement(txn, *current, d, options_.exec_lease_ttl_ms,
                                                   now, spans.DeliveryTraceparent(), wrote)
                                 : RecordNoFit(txn, *current, d, now, &changed));
      if (d.placed) {
        POPULI_RETURN_IF_ERROR(
            txn.PutKv(kPlacementKvNs, kPlacementEpochKey, std::to_string(++next_epoch)));
      }
      if (changed) updated = std::move(current);
      return Status::Ok();
    }));
    epoch = next_epoch;
    if (!updated) continue;
    if (updated->state == mesh::TaskState::kPlaced) spans.Record(*updated, d, wrote);
    if (announce_) announce_(TaskTopic(updated->id));
    RecordDecisionMetrics(d, *updated, now);
    if (updated->state != mesh::TaskState::kPlaced) continue;
    ++placed;
    if (announce_) announce_(NodeInboxTopic(mesh::TaskInboxFor(d.node_id)));
    board->Reserve(d.node_id, *updated);
  }
  return placed;
}

}  // namespace populi::dispatch
