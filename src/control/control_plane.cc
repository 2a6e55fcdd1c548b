#include "control/control_plane.h"

#include <algorithm>
#include <chrono>

#include "control/api/routes.h"
#include "ui/ui_routes.h"

namespace populi::control {

ControlPlane::ControlPlane(store::MeshStore& store, ControlOptions options, const Clock& clock)
    : options_(std::move(options)),
      dispatcher_(store, options_, clock, [this](std::string_view topic) { ctx_.Notify(topic); }),
      ctx_(store, options_, clock, dispatcher_),
      audit_(store, clock) {
  if (ctx_.topics != nullptr) ctx_.topics->SetSink(&remote_topics_);
}

ControlPlane::~ControlPlane() {
  if (ctx_.topics != nullptr) ctx_.topics->SetSink(nullptr);  // waits out a call in progress
  Stop();
}

void ControlPlane::RemoteTopics::OnTopic(std::string_view topic) {
  if (auto node = dispatch::NodeOfDroppedTopic(topic)) {
    if (plane_.dispatcher_.AnnouncedConnectionDropped(*node)) plane_.WakeSweeper();
  } else if (auto held = dispatch::NodeOfHeldTopic(topic)) {
    plane_.dispatcher_.AnnouncedConnectionHeld(*held);
  } else {
    plane_.ctx_.NotifyHere(topic);
  }
}

void ControlPlane::RemoteTopics::OnMissed() {
  plane_.dispatcher_.ForgetAnnouncedDrops();
  plane_.ctx_.NotifyAllHere();  // each waiter re-reads the store
}

void ControlPlane::RegisterRoutes(http::Router& router) {
  AddSystemRoutes(router, ctx_);
  AddEventRoutes(router, ctx_);
  AddNodeRoutes(router, ctx_);
  AddA2ARoutes(router, ctx_);
  AddLeaseRoutes(router, ctx_);
  AddAdminRoutes(router, ctx_);
  AddBootstrapRoutes(router, ctx_);
  AddTaskRoutes(router, ctx_);
  AddTaskReportRoutes(router, ctx_);
  AddTraceRoutes(router, ctx_);
  AddAuditRoutes(router, ctx_);
  AddPairingRoutes(router, ctx_);
  AddModelRoutes(router, ctx_);
  AddInferenceRoutes(router, ctx_);
  ui::AddUiRoutes(router);     // the web dashboard's page and files (docs/dashboard.md)
  AddMcpRoutes(router, ctx_);  // last: it runs the routes above
}

void ControlPlane::SetSpanStore(obs::SpanStore* spans) {
  ctx_.spans = spans;
  dispatcher_.SetSpanSink(spans);
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
  (void)dispatcher_.ReleaseSweeperRole();  // another replica takes over at once
  audit_.Flush(/*all=*/true);
}

void ControlPlane::SweeperLoop() {
  std::unique_lock lock(mu_);
  auto last_pass = std::chrono::steady_clock::now();
  while (!stopping_) {
    // Liveness is judged at each node's own deadline, not only on the sweep period.
    int64_t wait_ms = options_.sweep_interval_ms;
    if (!dispatcher_.leading()) {
      // Renewed (or tried) well inside its TTL.
      wait_ms = std::min(wait_ms, std::max<int64_t>(options_.sweeper_role_ttl_ms / 4, 1));
    } else if (auto deadline = dispatcher_.NextLivenessDeadlineMs()) {
      wait_ms = std::clamp<int64_t>(*deadline - ctx_.NowMs(), 0, wait_ms);
    }
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stopping_ || wake_; });
    if (stopping_) break;
    wake_ = false;
    lock.unlock();
    // The steady clock keeps counting while this process is stopped; a pass that comes far later
    // than asked means the control plane itself was not running.
    const auto now = std::chrono::steady_clock::now();
    const int64_t elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - last_pass).count();
    last_pass = now;
    // Only the sweeper role's holder runs the passes; the other replicas follow
    // (dispatch/sweeper_role.cc).
    auto leading = dispatcher_.HoldSweeperRole();
    if (leading.ok() && *leading) {
      (void)NoteSweepGap(elapsed);
      (void)dispatcher_.Sweep();  // errors (store full, I/O) are retried on the next pass
      // A pass may have recorded events (node suspect / down, lease expiry): wake event streams.
      ctx_.Notify(dispatch::kEventsTopic);
    } else {
      (void)dispatcher_.Follow();
    }
    audit_.Flush(/*all=*/false);
    lock.lock();
  }
}

void ControlPlane::ConnectionDropped(const std::string& node_id) {
  if (dispatcher_.ConnectionDropped(node_id)) WakeSweeper();
}

void ControlPlane::WakeSweeper() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void ControlPlane::ObserveRequest(const http::RequestRecord& record) {
  metrics_.ObserveRequest(record);
}

void ControlPlane::RecordAuthLockout(const std::string& remote_ip) {
  mesh::Event e = MakeEvent(ctx_.NowMs(), "auth.lockout", remote_ip,
                            {{"remote_ip", remote_ip}, {"why", "too many failed authentications"}});
  ctx_.store.SubmitWrite(
      [e = std::move(e)](store::WriteTxn& txn) { return txn.AppendEvent(e).status(); },
      [this](Status) { ctx_.Notify(dispatch::kEventsTopic); });
  audit_.Lockout(remote_ip);
}

Status ControlPlane::NoteSweepGap(int64_t elapsed_ms) {
  return dispatcher_.NoteSweepGap(elapsed_ms);
}

Status ControlPlane::FlushLiveness() {
  return dispatcher_.FlushLiveness();
}

Result<SweepReport> ControlPlane::SweepOnce() {
  POPULI_ASSIGN_OR_RETURN(bool leading, dispatcher_.HoldSweeperRole());
  if (!leading) {
    POPULI_RETURN_IF_ERROR(dispatcher_.Follow());
    return SweepReport{};
  }
  return dispatcher_.Sweep();
}

}  // namespace populi::control
