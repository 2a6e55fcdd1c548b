// Tasks, the worker's side: an agent reports start, output and the signed result of the attempt
// it holds the lease for. Every report must name the current attempt, its node, lease id and
// fencing token, with the lease still live on the control plane's clock; anything else is 409 and
// an audit event (a zombie from an earlier attempt cannot touch the task). docs/tasks.md.
#include "control/api/routes.h"
#include "crypto/ed25519.h"
#include "dispatch/attempts.h"
#include "mesh/task_json.h"
#include "mesh/validate.h"
#include "obs/metrics.h"

namespace populi::control {
namespace {

// Decodes a report body with `decode` and checks the ids it names.
template <typename T>
Result<T> ParseReport(const http::Request& req, Result<T> (*decode)(const boost::json::value&)) {
  POPULI_ASSIGN_OR_RETURN(T r, DecodeBody(req, decode));
  POPULI_RETURN_IF_ERROR(mesh::ValidateId("node_id", r.node_id));
  POPULI_RETURN_IF_ERROR(mesh::ValidateLeaseId(r.lease_id));
  return r;
}

void AuditRefusal(ApiContext& ctx, const std::string& task_id, const mesh::AttemptReport& r,
                  const char* what, const Status& why) {
  const int64_t now = ctx.NowMs();
  (void)ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    return txn
        .AppendEvent(MakeEvent(now, "task.report_refused", task_id,
                               {{"report", what},
                                {"node_id", r.node_id},
                                {"attempt", r.attempt},
                                {"fencing_token", r.fencing_token},
                                {"why", why.message()}}))
        .status();
  });
  ctx.Notify(dispatch::kEventsTopic);
}

http::Response Start(ApiContext& ctx, http::Request& req) {
  auto r = ParseReport(req, mesh::AttemptReportFromJson);
  if (!r.ok()) return Error(r.status(), req);
  const std::string id = req.params.at("id");
  const int64_t now = ctx.NowMs();
  mesh::Task task;
  bool started_now = false;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(task, dispatch::CheckReporter(txn, id, *r, now));
    mesh::Attempt& a = task.attempts.back();
    if (a.state == mesh::AttemptState::kRunning) return Status::Ok();  // a retried start
    started_now = true;
    a.state = mesh::AttemptState::kRunning;
    a.started_ms = now;
    task.state = mesh::TaskState::kRunning;
    task.updated_ms = now;
    POPULI_RETURN_IF_ERROR(txn.PutTask(task));
    return txn
        .AppendEvent(
            MakeEvent(now, "task.started", id, {{"attempt", a.number}, {"node_id", a.node_id}}))
        .status();
  });
  if (!s.ok()) {
    if (s.code() == Code::kConflict) AuditRefusal(ctx, id, *r, "start", s);
    return Error(s, req);
  }
  ctx.Notify(dispatch::TaskTopic(id));
  if (started_now) {
    // MESH-087: dispatch → receipt per node, the placement to the worker's start report.
    static obs::HistogramFamily& receipt = obs::Registry::Default().Histograms(
        "populi_dispatch_receipt_seconds",
        "Time from a task attempt's placement to its node's start report, per node.", {"node"},
        obs::LatencyBuckets());
    const mesh::Attempt& a = task.attempts.back();
    receipt.With({a.node_id}).Observe(static_cast<double>(now - a.placed_ms) / 1000.0);
  }
  return Json(mesh::ToJson(task));
}

http::Response AppendLogs(ApiContext& ctx, http::Request& req) {
  auto r = ParseReport(req, mesh::LogsReportFromJson);
  if (!r.ok()) return Error(r.status(), req);
  const std::string id = req.params.at("id");
  const int64_t now = ctx.NowMs();
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_RETURN_IF_ERROR(dispatch::CheckReporter(txn, id, *r, now).status());
    for (const auto& chunk : r->chunks) {
      POPULI_RETURN_IF_ERROR(
          txn.AppendTaskLog(id, r->attempt, chunk.stream, chunk.data, now).status());
    }
    return Status::Ok();
  });
  if (!s.ok()) {
    if (s.code() == Code::kConflict) AuditRefusal(ctx, id, *r, "logs", s);
    return Error(s, req);
  }
  ctx.Notify(dispatch::TaskTopic(id));
  return http::NoContent();
}

http::Response Result_(ApiContext& ctx, http::Request& req) {
  auto r = ParseReport(req, mesh::ResultReportFromJson);
  if (!r.ok()) return Error(r.status(), req);
  const std::string id = req.params.at("id");
  const int64_t now = ctx.NowMs();
  mesh::Task task;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(task, dispatch::CheckReporter(txn, id, *r, now));
    POPULI_ASSIGN_OR_RETURN(auto node, txn.GetNode(r->node_id));
    const std::string text = mesh::ResultSigningText(
        id, r->attempt, r->lease_id, r->fencing_token, r->exit_code, r->error,
        crypto::Sha256Hex(r->stdout_tail + "\n" + r->stderr_tail));
    if (!node || node->ed25519_pub_key_b64.empty() ||
        !crypto::VerifyBase64(node->ed25519_pub_key_b64, text, r->signature_b64)) {
      return Status(Code::kConflict,
                    "report for task " + id + " refused: the result signature does not verify",
                    "sign with the key whose public half the node sent at join");
    }
    POPULI_ASSIGN_OR_RETURN(auto lease,
                            txn.CompleteLease(r->lease_id, r->node_id, r->fencing_token, now));
    POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "lease.completed", lease.lease_id,
                                                     {{"scope_key", lease.scope_key},
                                                      {"holder_node_id", lease.holder_node_id},
                                                      {"fencing_token", lease.fencing_token}}))
                               .status());
    mesh::Attempt& a = task.attempts.back();
    const bool ok = r->exit_code == 0 && r->error.empty();
    a.state = ok ? mesh::AttemptState::kSucceeded : mesh::AttemptState::kFailed;
    a.ended_ms = now;
    a.exit_code = r->exit_code;
    a.error = r->error;
    if (a.started_ms == 0) a.started_ms = now;
    task.state = ok ? mesh::TaskState::kSucceeded : mesh::TaskState::kFailed;
    task.exit_code = r->exit_code;
    task.ended_ms = task.updated_ms = now;
    POPULI_RETURN_IF_ERROR(txn.PutTask(task));
    return txn
        .AppendEvent(MakeEvent(now, ok ? "task.succeeded" : "task.failed", id,
                               {{"attempt", a.number},
                                {"node_id", a.node_id},
                                {"exit_code", r->exit_code},
                                {"error", r->error}}))
        .status();
  });
  if (!s.ok()) {
    if (s.code() == Code::kConflict) AuditRefusal(ctx, id, *r, "result", s);
    return Error(s, req);
  }
  ctx.Notify(dispatch::TaskTopic(id));
  ctx.Notify(dispatch::kEventsTopic);
  return Json(mesh::ToJson(task));
}

}  // namespace

void AddTaskReportRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kPost, "/v1/populi/tasks/{id}/start", NodePlaneRoles(), 4 * 1024,
              "tasks.report_start", [&ctx](http::Request& req) { return Start(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/tasks/{id}/logs", NodePlaneRoles(), 1024 * 1024,
              "tasks.report_logs", [&ctx](http::Request& req) { return AppendLogs(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/tasks/{id}/result", NodePlaneRoles(),
              4 * 1024 * 1024, "tasks.report_result",
              [&ctx](http::Request& req) { return Result_(ctx, req); }});
}

}  // namespace populi::control
