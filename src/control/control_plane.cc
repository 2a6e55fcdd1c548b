#include "control/control_plane.h"

#include <boost/json.hpp>

#include "control/api/routes.h"

namespace populi::control {

ControlPlane::ControlPlane(store::MeshStore& store, ControlOptions options, const Clock& clock)
    : options_(std::move(options)), ctx_(store, options_, clock) {
  // A store that cannot list nodes leaves liveness empty; nodes re-enter on their next
  // heartbeat, and the failure surfaces on the first route that reads the store.
  if (auto nodes = store.ListNodes(); nodes.ok()) ctx_.liveness.Load(*nodes, clock.NowMs());
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
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.sweep_interval_ms),
                 [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    (void)SweepOnce();  // errors (store full, I/O) are retried on the next pass
    lock.lock();
  }
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

  auto transitions = ctx_.liveness.Judge(now);
  if (!transitions.empty()) {
    POPULI_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) -> Status {
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

  POPULI_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto expired, txn.ExpireLeases(now));
    for (const auto& l : expired) {
      POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "lease.expired", l.lease_id,
                                                       {{"scope_key", l.scope_key},
                                                        {"holder_node_id", l.holder_node_id}}))
                                 .status());
    }
    report.leases_expired = static_cast<int>(expired.size());
    POPULI_ASSIGN_OR_RETURN(auto swept, txn.SweepExpiredClaims(now, options_.a2a_max_deliveries));
    report.claims_requeued = swept.requeued;
    report.dead_lettered = swept.dead_lettered;
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
  if (report.state_changes + report.leases_expired + report.maintenance_cleared > 0)
    ctx_.Notify("events");
  return report;
}

}  // namespace populi::control
