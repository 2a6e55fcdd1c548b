// Admin: POST /v1/populi/admin/{maintenance,quarantine,exec-lease/revoke}.
#include <boost/json.hpp>

#include "control/api/routes.h"
#include "dispatch/attempts.h"
#include "mesh/validate.h"

namespace populi::control {
namespace json = boost::json;
namespace {

Status UnknownNode(const std::string& id) {
  return NotFound("node " + id + " is not registered", "list nodes with GET /v1/populi/nodes");
}

http::Response Maintenance(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(req, mesh::MaintenanceRequestFromJson);
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateId("node_id", q->node_id); !s.ok()) return Error(s, req);
  const int64_t now = ctx.NowMs();
  int64_t until = 0;
  if (q->on && q->until_ms != 0) {
    if (q->until_ms <= now) {
      return Error(InvalidArgument("until_ms is in the past on the control plane's clock",
                                   "send for_ms (a duration) instead of an absolute time"),
                   req);
    }
    until = q->until_ms;
  } else if (q->on && q->for_ms > 0) {
    until = now + std::min(q->for_ms, kMaxMaintenanceForMs);
  }
  std::optional<mesh::NodeRecord> node;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto before, txn.GetNode(q->node_id));
    if (!before) return UnknownNode(q->node_id);
    POPULI_RETURN_IF_ERROR(txn.SetMaintenance(q->node_id, q->on, until));
    POPULI_RETURN_IF_ERROR(
        txn.AppendEvent(MakeEvent(now, q->on ? "node.maintenance" : "node.maintenance_cleared",
                                  q->node_id,
                                  {{"until_ms", until}, {"by", req.principal.token_label}}))
            .status());
    POPULI_RETURN_IF_ERROR(
        txn.AppendAudit(AuditOf(req, now, q->on ? "node.maintenance" : "node.maintenance_cleared",
                                q->node_id, {{"until_ms", until}}))
            .status());
    POPULI_ASSIGN_OR_RETURN(node, txn.GetNode(q->node_id));
    return Status::Ok();
  });
  if (!s.ok()) return Error(s, req);
  ctx.Notify(dispatch::kEventsTopic);
  return Json(mesh::ToJson(*node));
}

http::Response Quarantine(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(req, mesh::QuarantineRequestFromJson);
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateId("node_id", q->node_id); !s.ok()) return Error(s, req);
  const int64_t now = ctx.NowMs();
  std::optional<mesh::NodeRecord> node;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto before, txn.GetNode(q->node_id));
    if (!before) return UnknownNode(q->node_id);
    POPULI_RETURN_IF_ERROR(txn.SetQuarantine(q->node_id, q->on));
    POPULI_RETURN_IF_ERROR(
        txn.AppendEvent(MakeEvent(now, q->on ? "node.quarantined" : "node.unquarantined",
                                  q->node_id, {{"by", req.principal.token_label}}))
            .status());
    POPULI_RETURN_IF_ERROR(
        txn.AppendAudit(
               AuditOf(req, now, q->on ? "node.quarantined" : "node.unquarantined", q->node_id))
            .status());
    POPULI_ASSIGN_OR_RETURN(node, txn.GetNode(q->node_id));
    return Status::Ok();
  });
  if (!s.ok()) return Error(s, req);
  ctx.Notify(dispatch::kEventsTopic);
  return Json(mesh::ToJson(*node));
}

http::Response Revoke(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(
      req,
      +[](const json::value& v) { return mesh::LeaseRequestFromJson(v, mesh::LeaseOp::kRevoke); });
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateLeaseId(q->lease_id); !s.ok()) return Error(s, req);
  const int64_t now = ctx.NowMs();
  mesh::ExecLease lease;
  std::string revoked_task;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(lease, txn.RevokeLease(q->lease_id, now));
    POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "lease.revoked", lease.lease_id,
                                                     {{"scope_key", lease.scope_key},
                                                      {"holder_node_id", lease.holder_node_id},
                                                      {"by", req.principal.token_label}}))
                               .status());
    POPULI_RETURN_IF_ERROR(txn.AppendAudit(AuditOf(req, now, "lease.revoked", lease.lease_id,
                                                   {{"scope_key", lease.scope_key},
                                                    {"holder_node_id", lease.holder_node_id}}))
                               .status());
    // A task attempt under this lease is lost: its holder aborts at its next renew and the task
    // is placed again (MESH-088). A result that already completed the lease makes the revoke
    // fail above, so a finished task never flaps back.
    if (auto task_id = dispatch::TaskIdOfScope(lease.scope_key)) {
      revoked_task = *task_id;
      return dispatch::MarkAttemptLost(txn, *task_id, lease.lease_id, "lease_revoked", now);
    }
    return Status::Ok();
  });
  if (!s.ok()) return Error(s, req);
  if (!revoked_task.empty()) {
    ctx.Notify(dispatch::TaskTopic(revoked_task));
    (void)ctx.dispatch.PlacePending();
  }
  ctx.Notify(dispatch::kEventsTopic);
  return Json(mesh::ToJson(lease));
}

}  // namespace

void AddAdminRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kPost, "/v1/populi/admin/maintenance", AdminRoles(), 4 * 1024,
              "admin.maintenance", [&ctx](http::Request& req) { return Maintenance(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/admin/quarantine", AdminRoles(), 4 * 1024,
              "admin.quarantine", [&ctx](http::Request& req) { return Quarantine(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/admin/exec-lease/revoke", AdminRoles(), 4 * 1024,
              "admin.lease_revoke", [&ctx](http::Request& req) { return Revoke(ctx, req); }});
}

}  // namespace populi::control
