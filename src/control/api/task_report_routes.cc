// Tasks, the worker's side: an agent reports start, output and the signed result of the attempt
// it holds the lease for. Every report must name the current attempt, its node, lease id and
// fencing token, with the lease still live on the control plane's clock; anything else is 409 and
// an audit event (a zombie from an earlier attempt cannot touch the task). docs/tasks.md.
#include <boost/json.hpp>

#include "control/api/routes.h"
#include "control/api/tasks.h"
#include "crypto/ed25519.h"
#include "mesh/task_json.h"
#include "mesh/validate.h"

namespace populi::control {
namespace json = boost::json;
namespace {

struct Report {
  int32_t attempt = 0;
  std::string node_id, lease_id;
  int64_t fencing_token = 0;
  // result
  int32_t exit_code = -1;
  std::string error, stdout_tail, stderr_tail, signature_b64;
  // logs
  std::vector<std::pair<std::string, std::string>> chunks;  // stream, data
};

Result<Report> ParseReport(const http::Request& req) {
  POPULI_ASSIGN_OR_RETURN(json::value v, mesh::ParseJson(req.body));
  if (!v.is_object()) return InvalidArgument("the body must be a JSON object");
  const json::object& o = v.as_object();
  Report r;
  auto str = [&](const char* k, std::string& out) {
    if (const auto* f = o.if_contains(k); f && f->is_string()) out = std::string(f->as_string());
  };
  auto num = [&](const char* k, auto& out) {
    if (const auto* f = o.if_contains(k); f && f->is_int64())
      out = static_cast<std::decay_t<decltype(out)>>(f->as_int64());
  };
  num("attempt", r.attempt);
  str("node_id", r.node_id);
  str("lease_id", r.lease_id);
  num("fencing_token", r.fencing_token);
  num("exit_code", r.exit_code);
  str("error", r.error);
  str("stdout_tail", r.stdout_tail);
  str("stderr_tail", r.stderr_tail);
  str("signature_b64", r.signature_b64);
  if (const auto* chunks = o.if_contains("chunks"); chunks && chunks->is_array()) {
    for (const auto& c : chunks->as_array()) {
      if (!c.is_object()) return InvalidArgument("chunks[]: expected objects");
      const auto* stream = c.as_object().if_contains("stream");
      const auto* data = c.as_object().if_contains("data");
      if (!stream || !stream->is_string() || !data || !data->is_string())
        return InvalidArgument("chunks[]: stream and data are required strings");
      std::string s(stream->as_string());
      if (s != "stdout" && s != "stderr" && s != "system")
        return InvalidArgument("chunks[].stream '" + s + "' is unknown",
                               "use stdout, stderr or system");
      r.chunks.emplace_back(std::move(s), std::string(data->as_string()));
    }
  }
  POPULI_RETURN_IF_ERROR(mesh::ValidateId("node_id", r.node_id));
  POPULI_RETURN_IF_ERROR(mesh::ValidateLeaseId(r.lease_id));
  if (r.attempt < 1) return InvalidArgument("attempt must be ≥ 1");
  return r;
}

// The task if `r` speaks for its current, live attempt; kConflict otherwise.
Result<mesh::Task> CheckReporter(store::WriteTxn& txn, const std::string& task_id, const Report& r,
                                 int64_t now) {
  POPULI_ASSIGN_OR_RETURN(auto task, txn.GetTask(task_id));
  if (!task) return NotFound("task " + task_id + " does not exist");
  auto refuse = [&](const std::string& why) {
    return Status(Code::kConflict, "report for task " + task_id + " refused: " + why,
                  "this attempt no longer owns the task; stop its process");
  };
  if (task->attempts.empty()) return refuse("the task has no attempt");
  const mesh::Attempt& a = task->attempts.back();
  if (a.number != r.attempt) {
    return refuse("attempt " + std::to_string(r.attempt) + " is not the current attempt " +
                  std::to_string(a.number));
  }
  if (a.node_id != r.node_id || a.lease_id != r.lease_id || a.fencing_token != r.fencing_token)
    return refuse("node, lease or fencing token does not match the current attempt");
  if (a.state != mesh::AttemptState::kPlaced && a.state != mesh::AttemptState::kRunning)
    return refuse("attempt " + std::to_string(a.number) + " already ended (" +
                  std::string(mesh::ToString(a.state)) + ")");
  POPULI_ASSIGN_OR_RETURN(auto lease, txn.GetLease(r.lease_id));
  if (!lease || mesh::IsTerminal(lease->state) || lease->expires_ms <= now)
    return refuse("the exec lease is no longer live");
  return std::move(*task);
}

void AuditRefusal(ApiContext& ctx, const std::string& task_id, const Report& r, const char* what,
                  const Status& why) {
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
  ctx.Notify("events");
}

http::Response Start(ApiContext& ctx, http::Request& req) {
  auto r = ParseReport(req);
  if (!r.ok()) return Error(r.status(), req);
  const std::string id = req.params.at("id");
  const int64_t now = ctx.NowMs();
  mesh::Task task;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(task, CheckReporter(txn, id, *r, now));
    mesh::Attempt& a = task.attempts.back();
    if (a.state == mesh::AttemptState::kRunning) return Status::Ok();  // a retried start
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
  ctx.Notify(TaskTopic(id));
  return Json(mesh::ToJson(task));
}

http::Response AppendLogs(ApiContext& ctx, http::Request& req) {
  auto r = ParseReport(req);
  if (!r.ok()) return Error(r.status(), req);
  const std::string id = req.params.at("id");
  const int64_t now = ctx.NowMs();
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_RETURN_IF_ERROR(CheckReporter(txn, id, *r, now).status());
    for (const auto& [stream, data] : r->chunks) {
      POPULI_RETURN_IF_ERROR(txn.AppendTaskLog(id, r->attempt, stream, data, now).status());
    }
    return Status::Ok();
  });
  if (!s.ok()) {
    if (s.code() == Code::kConflict) AuditRefusal(ctx, id, *r, "logs", s);
    return Error(s, req);
  }
  ctx.Notify(TaskTopic(id));
  return http::NoContent();
}

http::Response Result_(ApiContext& ctx, http::Request& req) {
  auto r = ParseReport(req);
  if (!r.ok()) return Error(r.status(), req);
  const std::string id = req.params.at("id");
  const int64_t now = ctx.NowMs();
  mesh::Task task;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(task, CheckReporter(txn, id, *r, now));
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
    POPULI_RETURN_IF_ERROR(
        txn.CompleteLease(r->lease_id, r->node_id, r->fencing_token, now).status());
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
  ctx.Notify(TaskTopic(id));
  ctx.Notify("events");
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
