// Tasks, the submitter's side: POST /v1/populi/tasks, list, get, cancel, wait (long-poll), logs
// (JSON page or server-sent events) and explain. docs/tasks.md.
#include <boost/json.hpp>

#include "control/api/routes.h"
#include "dispatch/scopes.h"
#include "mesh/replies_json.h"
#include "mesh/task_json.h"
#include "mesh/validate.h"
#include "util/clock.h"
#include "util/random.h"

namespace populi::control {
namespace json = boost::json;
namespace {

Result<mesh::Task> LoadTask(ApiContext& ctx, const http::Request& req) {
  const std::string& id = req.params.at("id");
  POPULI_RETURN_IF_ERROR(mesh::ValidateId("task id", id));
  POPULI_ASSIGN_OR_RETURN(auto task, ctx.store.GetTask(id));
  if (!task) {
    return NotFound("task " + id + " does not exist",
                    "list tasks with GET /v1/populi/tasks (ended tasks are kept for the retention "
                    "period)");
  }
  return std::move(*task);
}

http::Response Submit(ApiContext& ctx, http::Request& req) {
  auto spec = DecodeBody(req, mesh::TaskSpecFromJson);
  if (!spec.ok()) return Error(spec.status(), req);
  if (Status s = mesh::ValidateTaskSpec(*spec, ctx.options.limits); !s.ok()) return Error(s, req);
  if (spec->submitter_node_id.empty())
    spec->submitter_node_id = std::string(req.Header("x-vox-node-id"));
  // The task's trace continues from this request's span unless the spec names its own parent.
  if (spec->traceparent.empty()) spec->traceparent = req.trace.Traceparent();
  const int64_t now = ctx.NowMs();
  mesh::Task task;
  bool duplicate = false;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    if (!spec->client_key.empty()) {
      POPULI_ASSIGN_OR_RETURN(auto existing, txn.FindTaskByClientKey(spec->client_key));
      if (existing) {
        task = std::move(*existing);
        duplicate = true;
        return Status::Ok();
      }
    }
    task.id = "t-" + RandomHex(8);
    task.spec = *spec;
    task.state = mesh::TaskState::kPending;
    task.created_ms = task.updated_ms = now;
    POPULI_RETURN_IF_ERROR(txn.PutTask(task));
    return txn
        .AppendEvent(MakeEvent(now, "task.submitted", task.id,
                               {{"command", task.spec.command},
                                {"client_key", task.spec.client_key},
                                {"by", req.principal.token_label}}))
        .status();
  });
  if (!s.ok()) return Error(s, req);
  if (!duplicate) {
    // Placing now keeps submit → start short; a failure here leaves the task pending for the
    // sweeper, which retries every pass.
    (void)ctx.dispatch.PlacePending();
    if (auto fresh = ctx.store.GetTask(task.id); fresh.ok() && *fresh) task = std::move(**fresh);
  }
  ctx.Notify(dispatch::kEventsTopic);
  return Json(mesh::ToJson(task), duplicate ? 200 : 201);
}

http::Response ListTasks(ApiContext& ctx, http::Request& req) {
  store::TaskQuery q;
  if (auto it = req.query.find("state"); it != req.query.end() && !it->second.empty()) {
    if (auto state = mesh::ParseTaskState(it->second); !state.ok())
      return Error(state.status(), req);
    q.state = it->second;
  }
  auto limit = QueryIntParam(req, "limit", 100);
  if (!limit.ok()) return Error(limit.status(), req);
  q.limit = static_cast<int>(std::clamp<int64_t>(*limit, 1, 1000));
  auto tasks = ctx.store.ListTasks(q);
  if (!tasks.ok()) return Error(tasks.status(), req);
  return Json(mesh::ToJson(mesh::TaskList{std::move(*tasks)}));
}

http::Response GetTask(ApiContext& ctx, http::Request& req) {
  auto task = LoadTask(ctx, req);
  if (!task.ok()) return Error(task.status(), req);
  return Json(mesh::ToJson(*task));
}

http::Response Cancel(ApiContext& ctx, http::Request& req) {
  auto loaded = LoadTask(ctx, req);
  if (!loaded.ok()) return Error(loaded.status(), req);
  const int64_t now = ctx.NowMs();
  mesh::Task task;
  std::string node_to_tell;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto current, txn.GetTask(loaded->id));
    if (!current)
      return NotFound("task " + loaded->id + " does not exist",
                      "list tasks with GET /v1/populi/tasks");
    if (mesh::IsTerminal(current->state)) {
      return Status(Code::kFailedPrecondition,
                    "task " + current->id + " already ended (" +
                        std::string(mesh::ToString(current->state)) + ")",
                    "nothing to cancel; see GET /v1/populi/tasks/" + current->id);
    }
    if (!current->attempts.empty()) {
      mesh::Attempt& a = current->attempts.back();
      if (a.state == mesh::AttemptState::kPlaced || a.state == mesh::AttemptState::kRunning) {
        // Revoking the lease is what stops the agent: its next renew fails and it kills the
        // process group.
        auto revoked = txn.RevokeLease(a.lease_id, now);
        if (!revoked.ok() && revoked.status().code() != Code::kFailedPrecondition)
          return revoked.status();
        if (revoked.ok()) {
          POPULI_RETURN_IF_ERROR(
              txn.AppendEvent(MakeEvent(now, "lease.revoked", revoked->lease_id,
                                        {{"scope_key", revoked->scope_key},
                                         {"holder_node_id", revoked->holder_node_id},
                                         {"by", "cancel"}}))
                  .status());
          POPULI_RETURN_IF_ERROR(txn.AppendAudit(AuditOf(req, now, "lease.revoked", a.lease_id,
                                                         {{"scope_key", revoked->scope_key},
                                                          {"holder_node_id", a.node_id},
                                                          {"task_id", current->id},
                                                          {"why", "task cancelled"}}))
                                     .status());
        }
        a.state = mesh::AttemptState::kCancelled;
        a.ended_ms = now;
        a.error = "cancelled";
        node_to_tell = a.node_id;
      }
    }
    current->state = mesh::TaskState::kCancelled;
    current->ended_ms = current->updated_ms = now;
    current->pending_reason.clear();
    POPULI_RETURN_IF_ERROR(txn.PutTask(*current));
    POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "task.cancelled", current->id,
                                                     {{"by", req.principal.token_label}}))
                               .status());
    task = std::move(*current);
    return Status::Ok();
  });
  if (!s.ok()) return Error(s, req);
  ctx.Notify(dispatch::TaskTopic(task.id));
  ctx.Notify(dispatch::kEventsTopic);
  return Json(mesh::ToJson(task));
}

http::Response Wait(ApiContext& ctx, http::Request& req) {
  auto task = LoadTask(ctx, req);
  if (!task.ok()) return Error(task.status(), req);
  auto timeout = QueryIntParam(req, "timeout_ms", ctx.options.long_poll_max_ms);
  if (!timeout.ok()) return Error(timeout.status(), req);
  const int64_t wait = std::min(*timeout, ctx.options.long_poll_max_ms);
  if (mesh::IsTerminal(task->state) || wait <= 0) return Json(mesh::ToJson(*task));
  const std::string id = task->id;
  auto current = [&ctx, id]() -> http::Response {
    auto t = ctx.store.GetTask(id);
    if (!t.ok() || !*t) return http::JsonResponse("{}", 500);
    return Json(mesh::ToJson(**t));
  };
  auto poll = std::make_shared<http::LongPoll>();
  poll->topic = dispatch::TaskTopic(id);
  poll->deadline_ms = SystemClock::Instance().MonotonicMs() + wait;
  poll->poll = [&ctx, id, current]() -> std::optional<http::Response> {
    auto t = ctx.store.GetTask(id);
    if (t.ok() && *t && !mesh::IsTerminal((*t)->state)) return std::nullopt;
    return current();
  };
  poll->on_timeout = current;
  http::Response r;
  r.long_poll = std::move(poll);
  return r;
}

json::object ChunkJson(const store::TaskLogChunk& c) {
  return mesh::ToJson(mesh::LogRecord{c.seq, c.attempt, c.stream, c.data, c.ts_ms});
}

http::Response Logs(ApiContext& ctx, http::Request& req) {
  auto task = LoadTask(ctx, req);
  if (!task.ok()) return Error(task.status(), req);
  auto after = QueryIntParam(req, "after", 0);
  if (!after.ok()) return Error(after.status(), req);
  const bool follow = req.query.count("follow") != 0 ||
                      req.Header("accept").find("text/event-stream") != std::string_view::npos;
  const std::string id = task->id;
  if (!follow) {
    auto chunks = ctx.store.ListTaskLogs(id, *after, 1000);
    if (!chunks.ok()) return Error(chunks.status(), req);
    mesh::LogPage page;
    page.next_after = *after;
    page.state = task->state;
    for (const auto& c : *chunks) {
      page.logs.push_back({c.seq, c.attempt, c.stream, c.data, c.ts_ms});
      page.next_after = c.seq;
    }
    return Json(mesh::ToJson(page));
  }
  auto stream = std::make_shared<http::EventStream>();
  stream->topic = dispatch::TaskTopic(id);
  stream->cursor = *after;
  auto ended = std::make_shared<bool>(false);
  stream->next = [&ctx, id, ended](int64_t& cursor) -> std::optional<std::string> {
    if (*ended) return std::nullopt;
    // Read the state first: chunks appended before the task ended are all visible below.
    auto t = ctx.store.GetTask(id);
    if (!t.ok() || !*t) return std::nullopt;
    const bool terminal = mesh::IsTerminal((*t)->state);
    auto chunks = ctx.store.ListTaskLogs(id, cursor, 256);
    if (!chunks.ok()) return std::nullopt;
    std::string out;
    for (const auto& c : *chunks) {
      out += "id: " + std::to_string(c.seq) +
             "\nevent: log\ndata: " + json::serialize(ChunkJson(c)) + "\n\n";
      cursor = c.seq;
    }
    if (terminal && chunks->size() < 256) {
      out += "event: end\ndata: " +
             json::serialize(mesh::ToJson(mesh::LogEnd{(*t)->state, (*t)->exit_code})) + "\n\n";
      *ended = true;
    }
    return out;
  };
  http::Response r;
  r.stream = std::move(stream);
  return r;
}

http::Response Explain(ApiContext& ctx, http::Request& req) {
  auto task = LoadTask(ctx, req);
  if (!task.ok()) return Error(task.status(), req);
  return Json(mesh::ToJson(mesh::Explain(*task)));
}

}  // namespace

void AddTaskRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kPost, "/v1/populi/tasks", DeliverRoles(), 1024 * 1024, "tasks.submit",
              [&ctx](http::Request& req) { return Submit(ctx, req); }});
  router.Add({http::Method::kGet, "/v1/populi/tasks", AnyRole(), 0, "tasks.list",
              [&ctx](http::Request& req) { return ListTasks(ctx, req); }});
  router.Add({http::Method::kGet, "/v1/populi/tasks/{id}", AnyRole(), 0, "tasks.get",
              [&ctx](http::Request& req) { return GetTask(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/tasks/{id}/cancel", DeliverRoles(), 4 * 1024,
              "tasks.cancel", [&ctx](http::Request& req) { return Cancel(ctx, req); }});
  router.Add({http::Method::kGet, "/v1/populi/tasks/{id}/wait", AnyRole(), 0, "tasks.wait",
              [&ctx](http::Request& req) { return Wait(ctx, req); }});
  router.Add({http::Method::kGet, "/v1/populi/tasks/{id}/logs", AnyRole(), 0, "tasks.logs",
              [&ctx](http::Request& req) { return Logs(ctx, req); }});
  router.Add({http::Method::kGet, "/v1/populi/tasks/{id}/explain", AnyRole(), 0, "tasks.explain",
              [&ctx](http::Request& req) { return Explain(ctx, req); }});
}

}  // namespace populi::control
