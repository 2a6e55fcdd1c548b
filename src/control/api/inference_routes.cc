// The OpenAI-compatible front door (docs/inference.md): GET /v1/models, POST
// /v1/chat/completions, /v1/completions and /v1/embeddings for clients, and the relay the
// nodes' agents run it through — GET /v1/populi/inference/nodes/{node_id}/next (a long-poll
// that hands the agent its next job), POST /v1/populi/inference/jobs/{job_id}/chunks (the
// engine's answer as it arrives) and GET /v1/populi/inference/jobs/{job_id}/cancel (a long-poll
// that tells the agent its job's answer is no longer wanted) — plus GET
// /v1/populi/inference/requests/{request_id}, how a request was routed.
//
// A client's request is held as a long-poll until the first output of an engine (or a final
// failure): only then are its status line and headers written, so a failover before it is
// invisible to the client. A streamed answer is then relayed as server-sent events; a request
// that ends — answered, failed or dropped by its client — is ended in the request table exactly
// once, by whichever of its waiting functions the server destroys last.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "control/api/engine_load.h"
#include "control/api/routes.h"
#include "inference/front_door.h"
#include "inference/targets.h"
#include "mesh/inference_json.h"
#include "mesh/validate.h"

namespace populi::control {

// The front door's state, kept by ApiContext: the router and request table, and a thread that
// fails the attempts of nodes that went down or never picked their job up.
struct InferenceState {
  explicit InferenceState(ApiContext& c)
      : ctx(c), door(router, [&c](std::string_view topic) { c.NotifyHere(topic); }) {
    sweeper = std::thread([this] { SweepLoop(); });
  }
  ~InferenceState() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    sweeper.join();
  }

  void SweepLoop() {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(kSweepMs), [this] { return stopping; })) {
      if (door.Active() == 0) continue;
      lock.unlock();
      door.Sweep(ctx.NowMs(), [this](const std::string& node) {
        auto e = ctx.liveness.Get(node);
        return e && (e->state == mesh::NodeState::kAlive || e->state == mesh::NodeState::kSuspect);
      });
      lock.lock();
    }
  }

  // The inventories a request routes on: read from the store (and decoded) at most once per
  // kInventoryCacheMs, not per request. Inventories change on poll intervals of seconds; a node
  // that went down since is caught by the sweep (its attempt fails over).
  Result<std::shared_ptr<const inference::ModelIndex>> Inventories() {
    const int64_t now = SystemClock::Instance().MonotonicMs();
    {
      std::lock_guard lock(cache_mu);
      if (cached && now - cached_at < kInventoryCacheMs) return cached;
    }
    POPULI_ASSIGN_OR_RETURN(auto loaded, LoadNodeInventories(ctx, ""));
    // The engines' own loads (heartbeats, api/engine_load.h): only routing reads them.
    POPULI_ASSIGN_OR_RETURN(auto loads, ReadEngineLoads(ctx));
    for (auto& n : loaded) {
      if (auto l = loads.find(n.node.id); l != loads.end()) n.engine_load = std::move(l->second);
    }
    auto fresh = std::make_shared<const inference::ModelIndex>(std::move(loaded));
    std::lock_guard lock(cache_mu);
    cached = fresh;
    cached_at = now;
    return fresh;
  }

  static constexpr int64_t kSweepMs = 500;
  static constexpr int64_t kInventoryCacheMs = 1'000;
  ApiContext& ctx;
  std::mutex cache_mu;
  std::shared_ptr<const inference::ModelIndex> cached;
  int64_t cached_at = 0;
  inference::Router router;
  inference::FrontDoor door;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread sweeper;
};

namespace {

// A request's deadline when the client names none (x-populi-timeout-ms), and its bounds.
constexpr int64_t kDefaultDeadlineMs = 300'000;
constexpr int64_t kMinDeadlineMs = 1'000;
constexpr int64_t kMaxDeadlineMs = 3'600'000;
constexpr int64_t kMaxJobWaitMs = 60'000;

http::Response OpenAiError(int status, std::string_view message, std::string_view type,
                           std::string_view code, std::string_view hint,
                           const std::string& request_id) {
  http::Response r;
  r.status = status;
  r.body = mesh::OpenAiErrorBody(message, type, code, hint, request_id);
  return r;
}

// The OpenAI error of a Status (its type, code and HTTP status).
http::Response OpenAiError(const Status& s, const std::string& request_id) {
  const int status = http::HttpStatusFor(s.code());
  std::string_view type = "server_error";
  std::string_view code = "internal_error";
  switch (s.code()) {
    case Code::kInvalidArgument:
    case Code::kTooLarge:
      type = "invalid_request_error";
      code = "invalid_request";
      break;
    case Code::kNotFound:
      type = "invalid_request_error";
      code = "model_not_found";
      break;
    case Code::kAlreadyExists:
    case Code::kConflict:
      type = "invalid_request_error";
      code = "request_id_in_use";
      break;
    case Code::kResourceExhausted:
      type = "rate_limit_error";
      code = "rate_limit_exceeded";
      break;
    case Code::kTimeout:
      code = "timeout";
      break;
    case Code::kUnavailable:
      code = "no_node_available";
      break;
    default:
      break;
  }
  return OpenAiError(status, s.message(), type, code, s.hint(), request_id);
}

// GenAI semantic conventions' operation name of a route.
std::string_view OperationOf(mesh::InferenceRoute route) {
  switch (route) {
    case mesh::InferenceRoute::kChatCompletions:
      return "chat";
    case mesh::InferenceRoute::kCompletions:
      return "text_completion";
    case mesh::InferenceRoute::kEmbeddings:
      return "embeddings";
  }
  return "chat";
}

// Ends the request in the table when the last function that waits for it is destroyed, and
// records its span: "{operation} {model}", a client span under the HTTP request's, with the
// GenAI attributes and how the front door routed it (docs/observability.md).
struct EndOnRelease {
  EndOnRelease(InferenceState& s, std::string id, const http::Request& req,
               const mesh::OpenAiRequest& parsed, mesh::InferenceRoute route)
      : state(s),
        request_id(std::move(id)),
        span(s.ctx.spans, std::string(OperationOf(route)) + " " + parsed.model,
             obs::SpanKind::kClient, req.trace) {
    span.Set("gen_ai.operation.name", OperationOf(route))
        .Set("gen_ai.request.model", parsed.model)
        .Set("vox.mesh.request_id", request_id)
        .Set("vox.mesh.inference.stream", parsed.stream);
  }
  EndOnRelease(const EndOnRelease&) = delete;
  EndOnRelease& operator=(const EndOnRelease&) = delete;
  ~EndOnRelease() {
    state.door.End(request_id, state.ctx.NowMs());
    RecordSpan();
  }
  // The engine's token counts, from an answer's body or a streamed chunk.
  void NoteUsage(std::string_view data) {
    auto usage = mesh::OpenAiUsageOf(data);
    if (!usage) return;
    if (usage->input_tokens >= 0) input_tokens = usage->input_tokens;
    if (usage->output_tokens >= 0) output_tokens = usage->output_tokens;
  }
  void RecordSpan() {
    if (auto e = state.door.Explain(request_id)) {
      span.Set("gen_ai.response.model", e->model)
          .Set("vox.mesh.node_id", e->served_by)
          .Set("vox.mesh.inference.attempts", static_cast<int64_t>(e->attempts.size()))
          .Set("vox.mesh.inference.state", e->state);
      if (e->state == "failed") span.SetError("no node answered");
    }
    if (input_tokens >= 0) span.Set("gen_ai.usage.input_tokens", input_tokens.load());
    if (output_tokens >= 0) span.Set("gen_ai.usage.output_tokens", output_tokens.load());
    span.End();
  }
  InferenceState& state;
  std::string request_id;
  obs::ActiveSpan span;  // ended by the destructor only
  std::atomic<int64_t> input_tokens{-1};
  std::atomic<int64_t> output_tokens{-1};
};

std::string Sse(const std::string& data) {
  return "data: " + data + "\n\n";
}

// The stream a client reads once output has started: `first` (events read with the head),
// then what the agent posts, then [DONE] or an error event.
std::shared_ptr<http::EventStream> OutputStream(InferenceState& state,
                                                std::shared_ptr<EndOnRelease> end,
                                                std::vector<std::string> first) {
  auto events = std::make_shared<http::EventStream>();
  events->topic = inference::TopicOfRequest(end->request_id);
  auto ended = std::make_shared<bool>(false);
  events->next = [&state, end, ended,
                  first = std::move(first)](int64_t& cursor) mutable -> std::optional<std::string> {
    if (*ended) return std::nullopt;
    std::string text;
    if (cursor == 0) {
      for (const auto& e : first) {
        end->NoteUsage(e);
        text += Sse(e);
      }
      first.clear();
    }
    auto p = state.door.Read(end->request_id, state.ctx.NowMs());
    if (!p.ok()) return std::nullopt;
    for (const auto& e : p->events) {
      end->NoteUsage(e);
      text += Sse(e);
    }
    cursor += static_cast<int64_t>(p->events.size()) + 1;
    if (p->phase == inference::Phase::kDone || p->phase == inference::Phase::kFailed) {
      *ended = true;
      text += p->error.empty()
                  ? Sse("[DONE]")
                  : mesh::OpenAiErrorEvent("the answer broke off: " + p->error, "server_error",
                                           "stream_interrupted", end->request_id);
    }
    return text;
  };
  return events;
}

// The client's response once the request left kWaiting; nullopt while it waits.
std::optional<http::Response> Answer(InferenceState& state,
                                     const std::shared_ptr<EndOnRelease>& end, bool stream) {
  auto p = state.door.Read(end->request_id, state.ctx.NowMs());
  if (!p.ok()) return OpenAiError(p.status(), end->request_id);
  if (p->phase == inference::Phase::kWaiting) return std::nullopt;
  if (p->phase == inference::Phase::kFailed) {
    return OpenAiError(
        Status(p->code, p->error,
               "GET /v1/populi/inference/requests/" + end->request_id + " shows each attempt"),
        end->request_id);
  }
  const bool ok_status = p->status >= 200 && p->status < 300;
  if (stream && ok_status) {
    http::Response r;
    r.SetHeader("x-populi-node", p->node_id);
    r.stream = OutputStream(state, end, std::move(p->events));
    return r;
  }
  // Not streamed (or the engine refused the request): the whole body arrives in one chunk.
  if (p->phase != inference::Phase::kDone) return std::nullopt;
  http::Response r;
  r.status = p->status == 0 ? 200 : p->status;
  for (const auto& e : p->events) r.body += e;
  end->NoteUsage(r.body);
  r.SetHeader("x-populi-node", p->node_id);
  return r;
}

int64_t DeadlineFor(const http::Request& req) {
  const std::string_view header = req.Header("x-populi-timeout-ms");
  int64_t ms = kDefaultDeadlineMs;
  if (!header.empty()) {
    try {
      ms = std::stoll(std::string(header));
    } catch (const std::exception&) {
      ms = kDefaultDeadlineMs;
    }
  }
  return std::clamp(ms, kMinDeadlineMs, kMaxDeadlineMs);
}

http::Response Serve(InferenceState& state, http::Request& req, mesh::InferenceRoute route) {
  ApiContext& ctx = state.ctx;
  auto parsed = mesh::ParseOpenAiRequest(route, req.body);
  if (!parsed.ok()) return OpenAiError(parsed.status(), req.request_id);
  auto nodes = state.Inventories();
  if (!nodes.ok()) return OpenAiError(nodes.status(), req.request_id);
  const int64_t now = ctx.NowMs();
  const int64_t timeout = DeadlineFor(req);
  inference::RequestSpec spec;
  spec.request_id = req.request_id;
  spec.route = route;
  spec.model = parsed->model;
  spec.body = std::move(req.body);
  spec.stream = parsed->stream;
  spec.deadline_ms = now + timeout;
  spec.rendered = std::move(parsed->rendered);
  spec.targets = (*nodes)->TargetsFor(parsed->model, now);
  if (Status s = state.door.Begin(std::move(spec), now); !s.ok()) {
    return OpenAiError(s, req.request_id);
  }
  auto end = std::make_shared<EndOnRelease>(state, req.request_id, req, *parsed, route);
  const bool stream = parsed->stream;
  auto poll = std::make_shared<http::LongPoll>();
  poll->topic = inference::TopicOfRequest(req.request_id);
  poll->deadline_ms = SystemClock::Instance().MonotonicMs() + timeout;
  // A client that hangs up before the first output ends the request at once (EndOnRelease), so
  // the node's agent, watching its job, ends the engine's work.
  poll->end_when_dropped = true;
  poll->poll = [&state, end, stream] { return Answer(state, end, stream); };
  poll->on_timeout = [&state, end, stream] {
    if (auto r = Answer(state, end, stream)) return std::move(*r);
    return OpenAiError(Status(Code::kTimeout, "no node answered before the request's deadline",
                              "raise x-populi-timeout-ms, or check the nodes' engines"),
                       end->request_id);
  };
  http::Response r;
  r.long_poll = std::move(poll);
  return r;
}

http::Response ListModels(InferenceState& state, http::Request& req) {
  auto nodes = state.Inventories();
  if (!nodes.ok()) return OpenAiError(nodes.status(), req.request_id);
  http::Response r;
  r.body = mesh::OpenAiModelList(inference::ServedModels((*nodes)->nodes(), state.ctx.NowMs()));
  return r;
}

// The agent's long-poll for its node's next job: 200 with the job, 204 when none came.
http::Response NextJob(InferenceState& state, http::Request& req) {
  ApiContext& ctx = state.ctx;
  const std::string node_id = req.params.at("node_id");
  if (Status s = mesh::ValidateId("node_id", node_id); !s.ok()) return Error(s, req);
  auto node = ctx.store.GetNode(node_id);
  if (!node.ok()) return Error(node.status(), req);
  if (!*node) {
    return Error(NotFound("node " + node_id + " has not joined",
                          "POST /v1/populi/join first (the agent joins before it polls)"),
                 req);
  }
  if ((*node)->quarantined || (*node)->maintenance) {
    return Error(FailedPrecondition("node " + node_id + " is quarantined or in maintenance",
                                    "it takes no inference jobs until that is cleared"),
                 req);
  }
  auto wait = QueryIntParam(req, "wait_ms", 0);
  if (!wait.ok()) return Error(wait.status(), req);
  auto take = [&state, node_id]() -> std::optional<http::Response> {
    auto job = state.door.TakeJob(node_id);
    if (!job) return std::nullopt;
    return Json(mesh::ToJson(*job));
  };
  const int64_t wait_ms = std::min({*wait, ctx.options.long_poll_max_ms, kMaxJobWaitMs});
  // This replica now knows the node's agent polls it (requests here prefer such nodes).
  state.door.NotePoll(node_id, ctx.NowMs(), wait_ms);
  if (auto first = take()) return std::move(*first);
  if (wait_ms <= 0) return http::NoContent();
  auto poll = std::make_shared<http::LongPoll>();
  poll->topic = inference::TopicOfNode(node_id);
  poll->deadline_ms = SystemClock::Instance().MonotonicMs() + wait_ms;
  poll->poll = take;
  poll->on_timeout = [] { return http::NoContent(); };
  http::Response r;
  r.long_poll = std::move(poll);
  return r;
}

http::Response PostChunk(InferenceState& state, http::Request& req) {
  auto chunk = DecodeBody(req, mesh::InferenceChunkFromJson);
  if (!chunk.ok()) return Error(chunk.status(), req);
  if (chunk->job_id != req.params.at("job_id")) {
    return Error(InvalidArgument("job_id: \"" + chunk->job_id + "\" is not the job of the path",
                                 "POST each job's chunks to its own path"),
                 req);
  }
  auto reply = state.door.Post(*chunk, state.ctx.NowMs());
  if (!reply.ok()) return Error(reply.status(), req);
  return Json(mesh::ToJson(*reply));
}

// The agent's wait for a job's answer to be no longer wanted: {"cancel":true} as soon as it is
// not (or at once), {"cancel":false} when the wait runs out. Let go of when the agent hangs up
// (its job finished first).
http::Response WatchJob(InferenceState& state, http::Request& req) {
  const std::string job_id = req.params.at("job_id");
  auto wait = QueryIntParam(req, "wait_ms", 0);
  if (!wait.ok()) return Error(wait.status(), req);
  auto cancelled = [&state, job_id]() -> std::optional<http::Response> {
    if (state.door.JobWanted(job_id)) return std::nullopt;
    return Json(mesh::ToJson(mesh::InferenceChunkReply{true}));
  };
  if (auto now = cancelled()) return std::move(*now);
  const int64_t wait_ms = std::min({*wait, state.ctx.options.long_poll_max_ms, kMaxJobWaitMs});
  if (wait_ms <= 0) return Json(mesh::ToJson(mesh::InferenceChunkReply{false}));
  auto poll = std::make_shared<http::LongPoll>();
  poll->topic = inference::TopicOfJob(job_id);
  poll->deadline_ms = SystemClock::Instance().MonotonicMs() + wait_ms;
  poll->end_when_dropped = true;
  poll->poll = cancelled;
  poll->on_timeout = [] { return Json(mesh::ToJson(mesh::InferenceChunkReply{false})); };
  http::Response r;
  r.long_poll = std::move(poll);
  return r;
}

http::Response Explain(InferenceState& state, http::Request& req) {
  const std::string& id = req.params.at("request_id");
  auto e = state.door.Explain(id);
  if (!e) {
    return Error(NotFound("no inference request " + id + " is known here",
                          "requests are kept in memory by the control plane that served them"),
                 req);
  }
  return Json(mesh::ToJson(*e));
}

}  // namespace

void AddInferenceRoutes(http::Router& router, ApiContext& ctx) {
  if (!ctx.inference) ctx.inference = std::make_shared<InferenceState>(ctx);
  InferenceState& state = *ctx.inference;
  constexpr size_t kMaxRequestBytes = 8 * 1024 * 1024;
  router.Add({http::Method::kGet, "/v1/models", AnyRole(), 0, "openai.models",
              [&state](http::Request& req) { return ListModels(state, req); }});
  const std::pair<const char*, mesh::InferenceRoute> routes[] = {
      {"chat/completions", mesh::InferenceRoute::kChatCompletions},
      {"completions", mesh::InferenceRoute::kCompletions},
      {"embeddings", mesh::InferenceRoute::kEmbeddings}};
  for (const auto& [path, route] : routes) {
    std::string name = std::string("openai.") + path;
    std::replace(name.begin(), name.end(), '/', '_');
    router.Add({http::Method::kPost, std::string("/v1/") + path, DeliverRoles(), kMaxRequestBytes,
                name,
                [&state, route = route](http::Request& req) { return Serve(state, req, route); }});
  }
  router.Add({http::Method::kGet, "/v1/populi/inference/nodes/{node_id}/next", NodePlaneRoles(), 0,
              "inference.next", [&state](http::Request& req) { return NextJob(state, req); }});
  // Never rate limited (the `liveness` exemption): an answer's chunks come at its engine's pace,
  // and a throttled chunk would stall a client's stream. The handler is in-memory and short.
  router.Add({http::Method::kPost, "/v1/populi/inference/jobs/{job_id}/chunks", NodePlaneRoles(),
              kMaxRequestBytes, "inference.chunk",
              [&state](http::Request& req) { return PostChunk(state, req); },
              /*runs_inline=*/false, /*liveness=*/true});
  router.Add({http::Method::kGet, "/v1/populi/inference/jobs/{job_id}/cancel", NodePlaneRoles(), 0,
              "inference.cancel", [&state](http::Request& req) { return WatchJob(state, req); },
              /*runs_inline=*/false, /*liveness=*/true});
  router.Add({http::Method::kGet, "/v1/populi/inference/requests/{request_id}", AnyRole(), 0,
              "inference.explain", [&state](http::Request& req) { return Explain(state, req); }});
}

}  // namespace populi::control
