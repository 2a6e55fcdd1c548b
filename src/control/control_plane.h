// The control plane's routes and background work, over one MeshStore.
//
// ControlPlane registers every route (control/api/*) on a Router that the HTTP server then
// serves, and runs the sweeper thread that drives the dispatch engine's passes
// (dispatch/dispatcher.h: liveness, lease expiry, claims, maintenance, retention, placement).
//
// Several replicas on one store (docs/scale-out.md): what this replica announces to its own
// waiters also goes to the other replicas through the store's topic channel, and what they
// announce wakes the waiters here; connection drops seen at any replica reach the sweeper role's
// holder the same way. The ControlPlane is the store channel's sink while it lives.
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
#include "control/audit_recorder.h"
#include "control/control_metrics.h"
#include "control/http/http.h"
#include "dispatch/dispatcher.h"
#include "store/mesh_store.h"
#include "util/clock.h"
#include "util/status.h"

namespace populi::control {

using dispatch::SweepReport;

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
  // Where spans are kept: the server's and the placer's, and those agents send (null: tracing
  // off; the trace routes then answer that). Set before the server starts; must outlive it.
  void SetSpanStore(obs::SpanStore* spans);

  // Starts the sweeper thread: every options.sweep_interval_ms of real time, and earlier at the
  // next node's liveness deadline or when a held connection drops. Each pass first acquires or
  // renews the sweeper role (one holder across the replicas on the store); a replica without
  // it only persists its heartbeats and follows the stored node states, trying for the role
  // every quarter of its TTL.
  void Start();
  // Stops the sweeper, persists pending liveness and releases the sweeper role. Idempotent.
  void Stop();

  // One sweeper pass at the clock's current time (tests call it directly): the role first; a
  // replica without it follows and reports nothing swept.
  Result<SweepReport> SweepOnce();
  // The sweeper's real-time gap since its previous pass. A gap far past the sweep interval means
  // this process was paused: nodes get the gap as grace and a control.paused event is recorded.
  Status NoteSweepGap(int64_t elapsed_ms);
  // Writes buffered last-seen times to the store.
  Status FlushLiveness();

  // Records an `auth.lockout` event for a source address that failed authentication too often
  // (the server's on_auth_lockout). Never blocks: the write is submitted, not awaited.
  void RecordAuthLockout(const std::string& remote_ip);
  // A node's agent closed its held long-poll without a leave (the server's
  // on_long_poll_dropped): the node is suspect at once and down after the drop grace unless it
  // is heard from again. Never blocks: wakes the sweeper, which judges and records it; at a
  // replica without the sweeper role, the drop is announced to the holder, which does.
  void ConnectionDropped(const std::string& node_id);
  // One finished HTTP request (the server's on_request_done): request metrics, and refusal
  // events coalesced per source and window. Never blocks.
  void ObserveRequest(const http::RequestRecord& record);

  const ControlOptions& options() const { return options_; }
  // The HTTP layer's audit events (the server's on_auth_refused and on_authenticated).
  AuditRecorder& audit() { return audit_; }

 private:
  // What the other replicas on the store announce (store::TopicChannel), on its thread.
  class RemoteTopics final : public store::TopicSink {
   public:
    explicit RemoteTopics(ControlPlane& plane) : plane_(plane) {}
    void OnTopic(std::string_view topic) override;
    void OnMissed() override;

   private:
    ControlPlane& plane_;
  };

  void SweeperLoop();
  // Runs a sweeper pass now rather than at its next deadline.
  void WakeSweeper();

  ControlOptions options_;
  dispatch::Dispatcher dispatcher_;
  ApiContext ctx_;
  ControlMetrics metrics_{ctx_};
  AuditRecorder audit_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool wake_ = false;  // run a pass now (a dropped connection)
  std::thread sweeper_;
  RemoteTopics remote_topics_{*this};
};

}  // namespace populi::control
