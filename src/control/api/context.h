// What every route group shares: the store, options, clock, liveness and the notifier, plus the
// small helpers that turn bodies into wire types and Status into error responses.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "control/api/liveness.h"
#include "control/api/options.h"
#include "control/http/http.h"
#include "mesh/json.h"
#include "mesh/policy.h"
#include "mesh/types.h"
#include "store/mesh_store.h"
#include "util/clock.h"
#include "util/status.h"

namespace populi::control {

class TaskPlacer;

struct ApiContext {
  ApiContext(store::MeshStore& s, const ControlOptions& o, const Clock& c)
      : store(s), options(o), clock(c), liveness(o.suspect_ms(), o.down_ms(), 2 * o.heartbeat_ms) {}

  store::MeshStore& store;
  const ControlOptions& options;
  const Clock& clock;
  Liveness liveness;
  std::atomic<http::Notifier*> notifier{nullptr};
  TaskPlacer* placer = nullptr;  // set by ControlPlane; places pending tasks (control/api/tasks.h)

  int64_t NowMs() const { return clock.NowMs(); }
  void Notify(std::string_view topic) const {
    if (http::Notifier* n = notifier.load()) n->Notify(topic);
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

// The stored record with the in-memory liveness laid over it (state, last seen) and a lapsed
// maintenance window shown as off.
mesh::NodeRecord WithLiveness(const ApiContext& ctx, mesh::NodeRecord n, int64_t now_ms);
// The node `node_id` as a claimer or lease holder: kPermissionDenied when unknown, quarantined or
// in maintenance (`what` names the action in the message).
Result<mesh::NodeRecord> RequireActiveNode(ApiContext& ctx, const std::string& node_id,
                                           std::string_view what);
// Clamps a requested duration to [kMinLeaseMs, kMaxLeaseMs]; 0 takes `fallback`.
int64_t ClampLeaseMs(int64_t requested, int64_t fallback);
// An event with its data built from key/value pairs.
mesh::Event MakeEvent(int64_t now_ms, std::string kind, std::string subject,
                      const boost::json::object& data = {});

}  // namespace populi::control
