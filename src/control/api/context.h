// What every route group shares: the store, options, clock, liveness and the notifier, plus the
// small helpers that turn bodies into wire types and Status into error responses.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "control/api/inbox_gate.h"
#include "control/api/options.h"
#include "control/http/http.h"
#include "dispatch/dispatcher.h"
#include "inference/engine_load.h"
#include "mesh/json.h"
#include "mesh/policy.h"
#include "mesh/types.h"
#include "obs/span_store.h"
#include "store/mesh_store.h"
#include "util/clock.h"
#include "util/status.h"

namespace populi::control {

struct InferenceState;  // api/inference_routes.cc

struct ApiContext {
  ApiContext(store::MeshStore& s, const ControlOptions& o, const Clock& c, dispatch::Dispatcher& d)
      : store(s),
        options(o),
        clock(c),
        dispatch(d),
        liveness(d.liveness()),
        topics(s.topics()),
        inbox_gate(o.inbox_cap, kInboxRecountMs),
        engine_load_writes(o.heartbeat_ms) {}

  store::MeshStore& store;
  const ControlOptions& options;
  const Clock& clock;
  dispatch::Dispatcher& dispatch;  // placement and the attempt lifecycle
  dispatch::Liveness& liveness;    // dispatch's
  std::atomic<http::Notifier*> notifier{nullptr};
  // The other replicas on the store (null on SQLite: one process).
  store::TopicChannel* const topics;
  obs::SpanStore* spans = nullptr;  // set before serving; null when tracing is off
  // Where the inbox cap is a database count (topics != null), most deliveries skip it.
  static constexpr int64_t kInboxRecountMs = 250;
  InboxCapGate inbox_gate;
  // Which engine loads from heartbeats this replica still has to write (api/engine_load.h).
  inference::EngineLoadWrites engine_load_writes;
  // The front door's requests in flight (AddInferenceRoutes). Last member: its sweeper thread
  // uses the members above and is stopped first.
  std::shared_ptr<InferenceState> inference;

  int64_t NowMs() const { return clock.NowMs(); }
  // Wakes the waiters on `topic` here and, through the store, on every other replica. Call it
  // only after the change it announces committed. Never blocks.
  void Notify(std::string_view topic) const {
    NotifyHere(topic);
    if (topics != nullptr) topics->Publish(topic);
  }
  // This server's waiters only (what another replica announced).
  void NotifyHere(std::string_view topic) const {
    if (http::Notifier* n = notifier.load()) n->Notify(topic);
  }
  void NotifyAllHere() const {
    if (http::Notifier* n = notifier.load()) n->NotifyAll();
  }
};

// Role sets of the route × role matrix (docs/api.md).
std::vector<http::Role> AnyRole();         // every credential (reads)
std::vector<http::Role> NodePlaneRoles();  // worker, mesh, admin
std::vector<http::Role> DeliverRoles();    // submitter, worker, mesh, admin
std::vector<http::Role> AdminRoles();      // admin

// Parses the request body as JSON and decodes it with `decode`.
template <typename T>
Result<T> DecodeBody(const http::Request& req, Result<T> (*decode)(const boost::json::value&)) {
  POPULI_ASSIGN_OR_RETURN(boost::json::value v, mesh::ParseJson(req.body));
  return decode(v);
}

// An optional non-negative integer query parameter (`fallback` when absent).
Result<int64_t> QueryIntParam(const http::Request& req, const std::string& name, int64_t fallback);

http::Response Json(const boost::json::value& v, int status = 200);
http::Response Error(const Status& s, const http::Request& req);

// The node `node_id` as a claimer or lease holder: kPermissionDenied when unknown, quarantined or
// in maintenance (`what` names the action in the message).
Result<mesh::NodeRecord> RequireActiveNode(ApiContext& ctx, const std::string& node_id,
                                           std::string_view what);
// Clamps a requested duration to [kMinLeaseMs, kMaxLeaseMs]; 0 takes `fallback`.
int64_t ClampLeaseMs(int64_t requested, int64_t fallback);
using mesh::MakeEvent;

}  // namespace populi::control
