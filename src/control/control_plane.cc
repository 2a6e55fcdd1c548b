#include "control/control_plane.h"

#include <algorithm>
#include <boost/json.hpp>

#include "control/api/routes.h"

namespace populi::control {

ControlPlane::ControlPlane(store::MeshStore& store, ControlOptions options, const Clock& clock)
    : options_(std::move(options)), ctx_(store, options_, clock) {
  // A store that cannot list nodes leaves liveness empty; nodes re-enter on their next
  // heartbeat, and the failure surfaces on the first route that reads the store.
  if (auto nodes = store.ListNodes(); nodes.ok()) ctx_.liveness.Load(*nodes, clock.NowMs());
  ctx_.placer = &placer_;
  last_flush_ms_ = last_retention_ms_ = clock.NowMs();
}

ControlPlane::~ControlPlane() {
  Stop();
}

void ControlPlane::RegisterRoutes(http::Router& router) {
  AddSystemRoutes(router, ctx_);
  AddNodeRoutes(router, ctx_);
  AddA2ARoutes(router, ctx_);
  AddLeaseRoutes(router, ctx_);
  AddAdminRoutes(router, ctx_);
  AddBootstrapRoutes(router, ctx_);
  AddTaskRoutes(router, ctx_);
  AddTaskReportRoutes(router, ctx_);
}

void ControlPlane::SetNotifier(http::Notifier* notifier) {
  ctx_.notifier.store(notifier);
}

void ControlPlane::Start() {
  std::lock_guard lock(mu_);
  if (sweeper_.joinable() || stopping_) return;
  sweeper_ = std::thread([this] { SweeperLoop(); });
}

void ControlPlane::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  (void)FlushLiveness();  // best effort: a lost batch only costs the nodes one grace period
}

void ControlPlane::SweeperLoop() {
  std::unique_lock lock(mu_);
  auto last_pass = std::chrono::steady_clock::now();
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.sweep_interval_ms),
                 [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    // The steady clock keeps counting while this process is stopped; a pass that comes far later
    // than asked means the control plane itself was not running.
    const auto now = std::chrono::steady_clock::now();
    const int64_t elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - last_pass).count();
    last_pass = now;
    (void)NoteSweepGap(elapsed);
    (void)SweepOnce();  // errors (store full, I/O) are retried on the next pass
    lock.lock();
  }
}

Status ControlPlane::NoteSweepGap(int64_t elapsed_ms) {
  const int64_t threshold = std::max(3 * options_.sweep_interval_ms, options_.heartbeat_ms);
  if (elapsed_ms <= threshold) return Status::Ok();
  const int64_t gap = elapsed_ms - options_.sweep_interval_ms;
  const int64_t now = ctx_.NowMs();
  const int forgiven = ctx_.liveness.ForgiveGap(gap, now);
  Status s = ctx_.store.Write([&](store::WriteTxn& txn) -> Status {
    return txn
        .AppendEvent(MakeEvent(now, "control.paused", "control-plane",
                               {{"gap_ms", gap}, {"nodes_forgiven", forgiven}}))
        .status();
  });
  ctx_.Notify("events");
  return s;
}

Status ControlPlane::FlushLiveness() {
  auto dirty = ctx_.liveness.TakeDirty();
  if (dirty.empty()) return Status::Ok();
  return ctx_.store.Write([&](store::WriteTxn& txn) -> Status {
    for (const auto& [id, seen] : dirty) {
      Status s = txn.TouchNode(id, seen);
      if (!s.ok() && s.code() != Code::kNotFound) return s;  // a node that left is skipped
    }
    return Status::Ok();
  });
}

Result<SweepReport> ControlPlane::SweepOnce() {
  SweepReport report;
  const int64_t now = ctx_.NowMs();
  store::MeshStore& store = ctx_.store;

  Liveness::MassSilence mass_silence;
  auto transitions = ctx_.liveness.Judge(now, &mass_silence);
  report.nodes_held = mass_silence.held;
  if (!transitions.empty() || mass_silence.started) {
    POPULI_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) -> Status {
      if (mass_silence.started) {
        POPULI_RETURN_IF_ERROR(
            txn.AppendEvent(MakeEvent(now, "mesh.mass_silence", "control-plane",
                                      {{"silent", mass_silence.silent},
                                       {"tracked", mass_silence.tracked},
                                       {"hold_until_ms", mass_silence.hold_until_ms}}))
                .status());
      }
      for (const auto& t : transitions) {
        Status s = txn.SetNodeState(t.node_id, t.to);
        if (s.code() == Code::kNotFound) continue;
        POPULI_RETURN_IF_ERROR(s);
        POPULI_RETURN_IF_ERROR(txn.TouchNode(t.node_id, t.last_seen_ms));
        boost::json::object data{{"from", mesh::ToString(t.from)},
                                 {"last_seen_ms", t.last_seen_ms},
                                 {"silent_ms", now - t.last_seen_ms}};
        POPULI_RETURN_IF_ERROR(
            txn.AppendEvent(
                   MakeEvent(now, "node." + std::string(mesh::ToString(t.to)), t.node_id, data))
                .status());
      }
      return Status::Ok();
    }));
    report.state_changes = static_cast<int>(transitions.size());
  }
  if (now - last_flush_ms_ >= options_.liveness_flush_ms) {
    POPULI_RETURN_IF_ERROR(FlushLiveness());
    last_flush_ms_ = now;
  }

  std::vector<std::string> requeued_receivers;
  // A node judged down loses its task leases at once rather than at their TTL (MESH-165).
  std::vector<std::string> down_nodes;
  for (const auto& t : transitions)
    if (t.to == mesh::NodeState::kDown) down_nodes.push_back(t.node_id);
  if (!down_nodes.empty()) {
    POPULI_ASSIGN_OR_RETURN(auto live, store.ListLeases(/*live_only=*/true, now));
    POPULI_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) -> Status {
      for (const auto& l : live) {
        auto task_id = TaskIdOfScope(l.scope_key);
        if (!task_id ||
            std::find(down_nodes.begin(), down_nodes.end(), l.holder_node_id) == down_nodes.end()) {
          continue;
        }
        auto revoked = txn.RevokeLease(l.lease_id, now);
        if (!revoked.ok()) continue;  // ended meanwhile
        POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "lease.revoked", l.lease_id,
                                                         {{"scope_key", l.scope_key},
                                                          {"holder_node_id", l.holder_node_id},
                                                          {"by", "node_down"}}))
                                   .status());
        POPULI_RETURN_IF_ERROR(MarkAttemptLost(txn, *task_id, l.lease_id, "node_down", now));
        ++report.attempts_lost;
      }
      return Status::Ok();
    }));
  }

  POPULI_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto expired, txn.ExpireLeases(now));
    for (const auto& l : expired) {
      POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "lease.expired", l.lease_id,
                                                       {{"scope_key", l.scope_key},
                                                        {"holder_node_id", l.holder_node_id}}))
                                 .status());
      if (auto task_id = TaskIdOfScope(l.scope_key)) {
        POPULI_RETURN_IF_ERROR(MarkAttemptLost(txn, *task_id, l.lease_id, "lease_expired", now));
        ++report.attempts_lost;
      }
    }
    report.leases_expired = static_cast<int>(expired.size());
    POPULI_ASSIGN_OR_RETURN(auto swept, txn.SweepExpiredClaims(now, options_.a2a_max_deliveries));
    report.claims_requeued = swept.requeued;
    report.dead_lettered = swept.dead_lettered;
    requeued_receivers = std::move(swept.receivers);
    return Status::Ok();
  }));

  // Maintenance windows that ended are cleared on the control plane's clock.
  POPULI_ASSIGN_OR_RETURN(auto nodes, store.ListNodes());
  std::vector<std::string> lapsed;
  for (const auto& n : nodes)
    if (n.maintenance && n.maintenance_until_ms != 0 && now >= n.maintenance_until_ms)
      lapsed.push_back(n.id);
  if (!lapsed.empty()) {
    POPULI_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) -> Status {
      for (const auto& id : lapsed) {
        POPULI_RETURN_IF_ERROR(txn.SetMaintenance(id, false, 0));
        POPULI_RETURN_IF_ERROR(
            txn.AppendEvent(MakeEvent(now, "node.maintenance_ended", id)).status());
      }
      return Status::Ok();
    }));
    report.maintenance_cleared = static_cast<int>(lapsed.size());
  }

  if (now - last_retention_ms_ >= 60'000) {
    POPULI_RETURN_IF_ERROR(store.RunRetention(now, options_.retention_ms, 1000).status());
    last_retention_ms_ = now;
  }
  // A row whose claim lapsed is claimable again: wake the long-polls parked on its inbox.
  for (const auto& receiver : requeued_receivers) ctx_.Notify(NodeInboxTopic(receiver));
  POPULI_ASSIGN_OR_RETURN(report.tasks_placed, placer_.PlacePending());
  if (report.state_changes + report.leases_expired + report.maintenance_cleared +
          report.attempts_lost + report.tasks_placed >
      0) {
    ctx_.Notify("events");
  }
  return report;
}

}  // namespace populi::control
