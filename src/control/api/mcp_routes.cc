// The MCP server over Streamable HTTP (docs/mcp.md, docs/api.md): POST /mcp takes one JSON-RPC
// message and answers a request with application/json (202 for a notification or a response);
// DELETE /mcp ends a session; GET is 405 (this server opens no server-sent stream). An
// `initialize` starts a session whose id comes back in Mcp-Session-Id; later requests must carry
// it (400 without, 404 for one this server does not hold or another credential started).
//
// The tools run against a Backend that calls this control plane's own route handlers in-process
// (no loopback connection) as the caller: the route's roles are checked against the caller's
// principal, so the token's role limits what each tool may do, as on the HTTP API.
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/json.hpp>

#include "control/api/routes.h"
#include "mcp/server.h"
#include "mesh/replies_json.h"
#include "mesh/task_json.h"
#include "obs/span.h"
#include "util/clock.h"
#include "util/random.h"

namespace populi::control {
namespace json = boost::json;
namespace {

constexpr size_t kMaxMcpSessions = 10'000;
constexpr int64_t kMcpSessionIdleMs = 24LL * 3600 * 1000;
// Tool calls run on the handler pool and wait_task holds its thread for the wait: at most this
// many at once, so agents' calls never take the pool from the node plane.
constexpr int kMaxMcpCallsInFlight = 16;

bool RoleAllows(const http::Principal& p, const std::vector<http::Role>& roles) {
  if (roles.empty() || p.role == http::Role::kAdmin) return true;
  for (http::Role r : roles) {
    if (r == p.role) return true;
  }
  return false;
}

Code McpCodeFromName(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Code::kInternal); ++i) {
    if (CodeName(static_cast<Code>(i)) == name) return static_cast<Code>(i);
  }
  return Code::kInternal;
}

// The answer of a handler, with deferred forms resolved on this thread: a Completion is waited
// for, a long-poll is polled until it answers or its deadline passes.
http::Response Resolve(http::Response r, http::Request& req) {
  if (r.on_pool) r = r.on_pool(req);
  if (r.completion) {
    auto done = std::make_shared<std::promise<http::Response>>();
    auto answer = done->get_future();
    r.completion->OnComplete([done](http::Response out) { done->set_value(std::move(out)); });
    r = answer.get();
  }
  if (r.long_poll) {
    const std::shared_ptr<http::LongPoll> poll = r.long_poll;
    while (true) {
      if (auto ready = poll->poll()) return *ready;
      if (SystemClock::Instance().MonotonicMs() >= poll->deadline_ms) return poll->on_timeout();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return r;
}

class RouteBackend : public mcp::Backend {
 public:
  RouteBackend(const http::Router& router, const http::Request& caller)
      : router_(router), caller_(caller) {}

  Result<mesh::NodeList> Nodes() override {
    return Call(http::Method::kGet, "/v1/populi/nodes", {}, "", mesh::NodeListFromJson);
  }
  Result<mcp::Submitted> Submit(const mesh::TaskSpec& spec) override {
    int status = 0;
    POPULI_ASSIGN_OR_RETURN(json::value v, Run(http::Method::kPost, "/v1/populi/tasks", {},
                                               json::serialize(mesh::ToJson(spec)), &status));
    POPULI_ASSIGN_OR_RETURN(mesh::Task task, mesh::TaskFromJson(v));
    return mcp::Submitted{std::move(task), status == 201};
  }
  Result<mesh::Task> Wait(const std::string& id, int64_t wait_ms) override {
    return Call(http::Method::kGet, "/v1/populi/tasks/" + id + "/wait",
                {{"timeout_ms", std::to_string(wait_ms)}}, "", mesh::TaskFromJson);
  }
  Result<mesh::LogPage> Logs(const std::string& id, int64_t after) override {
    return Call(http::Method::kGet, "/v1/populi/tasks/" + id + "/logs",
                {{"after", std::to_string(after)}}, "", mesh::LogPageFromJson);
  }
  Result<mesh::Task> Cancel(const std::string& id) override {
    return Call(http::Method::kPost, "/v1/populi/tasks/" + id + "/cancel", {}, "{}",
                mesh::TaskFromJson);
  }
  Result<mesh::TaskExplanation> Explain(const std::string& id) override {
    return Call(http::Method::kGet, "/v1/populi/tasks/" + id + "/explain", {}, "",
                mesh::TaskExplanationFromJson);
  }
  Result<mesh::DeliverReply> Deliver(const mesh::NewMessage& message) override {
    return Call(http::Method::kPost, "/v1/populi/a2a/deliver", {},
                json::serialize(mesh::ToJson(message)), mesh::DeliverReplyFromJson);
  }
  Result<mesh::InboxPage> Inbox(const mesh::InboxRequest& request) override {
    return Call(http::Method::kPost, "/v1/populi/a2a/inbox", {},
                json::serialize(mesh::ToJson(request)), mesh::InboxPageFromJson);
  }
  Result<mesh::AckReply> Ack(const mesh::AckRequest& request) override {
    return Call(http::Method::kPost, "/v1/populi/a2a/ack", {},
                json::serialize(mesh::ToJson(request)), mesh::AckReplyFromJson);
  }
  Result<mesh::EventPage> Events(int64_t after, int limit) override {
    return Call(http::Method::kGet, "/v1/populi/events",
                {{"after", std::to_string(after)}, {"limit", std::to_string(limit)}}, "",
                mesh::EventPageFromJson);
  }
  std::string LocalNodeId() const override { return {}; }

 private:
  template <typename T>
  Result<T> Call(http::Method method, const std::string& path,
                 std::map<std::string, std::string> query, std::string body,
                 Result<T> (*decode)(const json::value&)) {
    POPULI_ASSIGN_OR_RETURN(json::value v, Run(method, path, std::move(query), std::move(body)));
    return decode(v);
  }

  // Runs the route for (method, path) as the caller: its roles checked against the caller's
  // principal, the tool call's trace context as the request's parent.
  Result<json::value> Run(http::Method method, const std::string& path,
                          std::map<std::string, std::string> query, std::string body,
                          int* status_out = nullptr) {
    http::Request req;
    bool path_exists = false;
    const http::Route* route = router_.Match(method, path, &req.params, &path_exists);
    if (route == nullptr) {
      return Internal("no route for " + std::string(http::ToString(method)) + " " + path,
                      "report this as a bug");
    }
    if (!RoleAllows(caller_.principal, route->roles)) {
      return Status(Code::kPermissionDenied,
                    route->name + " is not open to role " +
                        std::string(http::ToString(caller_.principal.role)),
                    "use a token with a role that may call it (docs/api.md)");
    }
    req.method = method;
    req.path = path;
    req.target = path;
    req.query = std::move(query);
    req.body = std::move(body);
    req.principal = caller_.principal;
    req.remote_addr = caller_.remote_addr;
    req.request_id = caller_.request_id;
    req.headers.emplace_back("content-type", "application/json");
    if (const obs::TraceContext* trace = obs::CurrentContext()) {
      req.trace_parent = *trace;
      req.trace = obs::ChildOf(*trace);
    } else {
      req.trace = obs::NewRootContext();
    }
    http::Response r = Resolve(route->handler(req), req);
    if (status_out != nullptr) *status_out = r.status;
    json::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (r.status >= 400) {
      auto reply = ec ? Result<mesh::ErrorReply>(Internal("", "")) : mesh::ErrorReplyFromJson(v);
      if (!reply.ok()) {
        return Internal(route->name + " answered " + std::to_string(r.status), "retry");
      }
      return Status(McpCodeFromName(reply->code), reply->message, reply->hint);
    }
    if (ec) return Internal(route->name + " answered no JSON", "report this as a bug");
    return v;
  }

  const http::Router& router_;
  const http::Request& caller_;
};

// What an `initialize` started: the credential it belongs to and the version it agreed.
struct McpSession {
  std::string token_label;
  std::string version;
  int64_t last_used_ms = 0;
};

class McpSessions {
 public:
  std::atomic<int> calls_in_flight{0};

  std::string Start(const std::string& token_label, std::string version, int64_t now) {
    std::lock_guard lock(mu_);
    if (sessions_.size() >= kMaxMcpSessions) Evict(now);
    std::string id = RandomHex(16);
    sessions_[id] = {token_label, std::move(version), now};
    return id;
  }
  // The session `id` of `token_label`, touched; nullopt when there is none.
  std::optional<McpSession> Find(const std::string& id, const std::string& token_label,
                                 int64_t now) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.token_label != token_label) return std::nullopt;
    if (now - it->second.last_used_ms > kMcpSessionIdleMs) {
      sessions_.erase(it);
      return std::nullopt;
    }
    it->second.last_used_ms = now;
    return it->second;
  }
  bool End(const std::string& id, const std::string& token_label) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.token_label != token_label) return false;
    sessions_.erase(it);
    return true;
  }

 private:
  // Drops idle sessions, else the least recently used one.
  void Evict(int64_t now) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (now - it->second.last_used_ms > kMcpSessionIdleMs) {
        it = sessions_.erase(it);
        continue;
      }
      if (it->second.last_used_ms < oldest->second.last_used_ms) oldest = it;
      ++it;
    }
    if (sessions_.size() >= kMaxMcpSessions && oldest != sessions_.end()) sessions_.erase(oldest);
  }
  std::mutex mu_;
  std::map<std::string, McpSession> sessions_;
};

http::Response JsonRpcReply(const json::object& body, int status = 200) {
  return http::JsonResponse(json::serialize(body), status);
}

http::Response McpPost(ApiContext& ctx, const http::Router& inner, McpSessions& sessions,
                       const std::string& version, http::Request& req) {
  const std::string_view asked_version = req.Header("mcp-protocol-version");
  if (!asked_version.empty() && !mcp::IsSupportedVersion(asked_version)) {
    return JsonRpcReply(mcp::MakeError(nullptr, mcp::kInvalidRequest,
                                       "Bad Request: unsupported MCP-Protocol-Version " +
                                           std::string(asked_version.substr(0, 32))),
                        400);
  }
  auto parsed = mcp::ParseMessage(req.body);
  if (auto* error = std::get_if<json::object>(&parsed)) return JsonRpcReply(*error, 400);
  const mcp::Incoming& message = std::get<mcp::Incoming>(parsed);
  const bool initialize = message.method == "initialize";
  const std::string session_id(req.Header("mcp-session-id"));
  if (!initialize) {
    if (session_id.empty()) {
      return JsonRpcReply(mcp::MakeError(message.id, mcp::kInvalidRequest,
                                         "Bad Request: Mcp-Session-Id header is required"),
                          400);
    }
    if (!sessions.Find(session_id, req.principal.token_label, ctx.NowMs())) {
      return JsonRpcReply(mcp::MakeError(message.id, mcp::kInvalidRequest,
                                         "Session not found: initialize a new session"),
                          404);
    }
  }
  if (message.kind != mcp::Incoming::Kind::kRequest) {
    http::Response accepted = http::NoContent();
    accepted.status = 202;
    return accepted;
  }
  const bool tool_call = message.method == "tools/call";
  if (tool_call && sessions.calls_in_flight.fetch_add(1) >= kMaxMcpCallsInFlight) {
    sessions.calls_in_flight.fetch_sub(1);
    return http::ErrorResponse(Status(Code::kResourceExhausted,
                                      "more than " + std::to_string(kMaxMcpCallsInFlight) +
                                          " MCP tool calls are running on this control plane",
                                      "retry in a few seconds, or wait with shorter wait_ms"),
                               req.request_id);
  }
  struct CallSlot {
    std::atomic<int>* n;
    ~CallSlot() {
      if (n != nullptr) n->fetch_sub(1);
    }
  } slot{tool_call ? &sessions.calls_in_flight : nullptr};
  RouteBackend backend(inner, req);
  mcp::Server server(backend, version);
  mcp::CallContext call;
  const http::Principal principal = req.principal;
  call.allowed = [principal](mcp::Access access) {
    switch (access) {
      case mcp::Access::kRead:
        return RoleAllows(principal, AnyRole());
      case mcp::Access::kSubmit:
        return RoleAllows(principal, DeliverRoles());
      case mcp::Access::kNodePlane:
        return RoleAllows(principal, NodePlaneRoles());
    }
    return false;
  };
  // A tool call without its own traceparent continues this request's trace.
  obs::ScopedContext trace(req.trace);
  std::optional<json::object> reply = server.Handle(message, call);
  http::Response r = JsonRpcReply(reply ? *reply : json::object{});
  if (initialize && reply && reply->contains("result")) {
    const json::value& v = reply->at("result").at("protocolVersion");
    r.SetHeader("Mcp-Session-Id",
                sessions.Start(req.principal.token_label, std::string(v.as_string()), ctx.NowMs()));
  }
  return r;
}

}  // namespace

void AddMcpRoutes(http::Router& router, ApiContext& ctx) {
  const std::string version = ctx.options.version;
  // The tools run the routes registered so far; /mcp itself is not among them.
  auto inner = std::make_shared<const http::Router>(router);
  auto sessions = std::make_shared<McpSessions>();
  router.Add({http::Method::kPost, "/mcp", AnyRole(), 1024 * 1024, "mcp.post",
              [&ctx, inner, sessions, version](http::Request& req) {
                return McpPost(ctx, *inner, *sessions, version, req);
              }});
  router.Add(
      {http::Method::kDelete, "/mcp", AnyRole(), 0, "mcp.delete", [sessions](http::Request& req) {
         const std::string id(req.Header("mcp-session-id"));
         if (id.empty() || !sessions->End(id, req.principal.token_label)) {
           return http::ErrorResponse(NotFound("no MCP session " + id.substr(0, 64),
                                               "start one with an initialize request (POST /mcp)"),
                                      req.request_id);
         }
         return http::NoContent();
       }});
}

}  // namespace populi::control
