// Exec leases: POST /v1/populi/exec/lease/{grant,renew,release}, GET /v1/populi/exec/leases.
#include <boost/json.hpp>

#include "control/api/routes.h"
#include "mesh/replies_json.h"
#include "mesh/validate.h"

namespace populi::control {
namespace json = boost::json;
namespace {

using LeaseFn = std::function<Result<mesh::ExecLease>(store::WriteTxn&, int64_t now)>;

// Runs one lease transition and records it as an event in the same transaction.
http::Response Transition(ApiContext& ctx, const http::Request& req, const char* event_kind,
                          const LeaseFn& fn) {
  const int64_t now = ctx.NowMs();
  mesh::ExecLease lease;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(lease, fn(txn, now));
    return txn
        .AppendEvent(MakeEvent(now, event_kind, lease.lease_id,
                               {{"scope_key", lease.scope_key},
                                {"holder_node_id", lease.holder_node_id},
                                {"fencing_token", lease.fencing_token}}))
        .status();
  });
  if (!s.ok()) return Error(s, req);
  ctx.Notify(dispatch::kEventsTopic);
  return Json(mesh::ToJson(lease));
}

http::Response Grant(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(
      req,
      +[](const json::value& v) { return mesh::LeaseRequestFromJson(v, mesh::LeaseOp::kGrant); });
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateScopeKey(q->scope_key, ctx.options.limits); !s.ok())
    return Error(s, req);
  auto node = RequireActiveNode(ctx, q->holder_node_id, "take an exec lease");
  if (!node.ok()) return Error(node.status(), req);
  const int64_t ttl = ClampLeaseMs(q->ttl_ms, ctx.options.exec_lease_ttl_ms);
  return Transition(ctx, req, "lease.granted", [&](store::WriteTxn& txn, int64_t now) {
    return txn.GrantLease(q->scope_key, q->holder_node_id, ttl, now);
  });
}

http::Response Renew(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(
      req,
      +[](const json::value& v) { return mesh::LeaseRequestFromJson(v, mesh::LeaseOp::kRenew); });
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateLeaseId(q->lease_id); !s.ok()) return Error(s, req);
  auto node = RequireActiveNode(ctx, q->holder_node_id, "renew an exec lease");
  if (!node.ok()) return Error(node.status(), req);
  const int64_t ttl = ClampLeaseMs(q->ttl_ms, ctx.options.exec_lease_ttl_ms);
  return Transition(ctx, req, "lease.renewed", [&](store::WriteTxn& txn, int64_t now) {
    return txn.RenewLease(q->lease_id, q->holder_node_id, ttl, now);
  });
}

http::Response Release(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(
      req,
      +[](const json::value& v) { return mesh::LeaseRequestFromJson(v, mesh::LeaseOp::kRelease); });
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateLeaseId(q->lease_id); !s.ok()) return Error(s, req);
  if (Status s = mesh::ValidateId("holder_node_id", q->holder_node_id); !s.ok())
    return Error(s, req);
  // Releasing is allowed in maintenance and quarantine: it only gives work back.
  return Transition(ctx, req, "lease.released", [&](store::WriteTxn& txn, int64_t now) {
    return txn.ReleaseLease(q->lease_id, q->holder_node_id, now);
  });
}

http::Response ListLeases(ApiContext& ctx, http::Request& req) {
  auto live = QueryIntParam(req, "live_only", 1);
  if (!live.ok() || *live > 1) {
    return Error(InvalidArgument("live_only must be 0 or 1", "e.g. ?live_only=0 for history"), req);
  }
  auto leases = ctx.store.ListLeases(*live == 1, ctx.NowMs());
  if (!leases.ok()) return Error(leases.status(), req);
  return Json(mesh::ToJson(mesh::LeaseList{std::move(*leases)}));
}

}  // namespace

void AddLeaseRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kPost, "/v1/populi/exec/lease/grant", NodePlaneRoles(), 8 * 1024,
              "leases.grant", [&ctx](http::Request& req) { return Grant(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/exec/lease/renew", NodePlaneRoles(), 4 * 1024,
              "leases.renew", [&ctx](http::Request& req) { return Renew(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/exec/lease/release", NodePlaneRoles(), 4 * 1024,
              "leases.release", [&ctx](http::Request& req) { return Release(ctx, req); }});
  router.Add({http::Method::kGet, "/v1/populi/exec/leases", AnyRole(), 0, "leases.list",
              [&ctx](http::Request& req) { return ListLeases(ctx, req); }});
}

}  // namespace populi::control
