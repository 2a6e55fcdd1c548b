// The tools' implementations over Backend (tools.h). Each reads its arguments, calls the mesh and
// shapes the reply into the tool's output schema. Spec fields that may carry secret values (a
// task's env, a sealed message's payload) are never returned.
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include <boost/json.hpp>

#include "mcp/tools.h"
#include "mesh/json.h"
#include "obs/span.h"
#include "obs/trace_context.h"

namespace populi::mcp {
namespace json = boost::json;
namespace {

// Reads tool arguments; the first problem is kept and reported as kInvalidArgument.
class ArgReader {
 public:
  explicit ArgReader(const json::object& args) : args_(args) {}
  const Status& status() const { return status_; }

  std::string Str(std::string_view name, std::string fallback = {}) {
    const json::value* v = args_.if_contains(name);
    if (!v || v->is_null()) return fallback;
    if (!v->is_string()) return Fail(name, "a string"), fallback;
    return std::string(v->as_string());
  }
  int64_t Int(std::string_view name, int64_t fallback, int64_t min, int64_t max) {
    const json::value* v = args_.if_contains(name);
    if (!v || v->is_null()) return fallback;
    if (!v->is_int64() && !v->is_uint64()) return Fail(name, "an integer"), fallback;
    const int64_t n = v->is_int64() ? v->as_int64() : static_cast<int64_t>(v->as_uint64());
    if (n < min || n > max) {
      return Fail(name, "between " + std::to_string(min) + " and " + std::to_string(max)), fallback;
    }
    return n;
  }
  std::vector<std::string> StrList(std::string_view name) {
    std::vector<std::string> out;
    const json::value* v = args_.if_contains(name);
    if (!v || v->is_null()) return out;
    if (!v->is_array()) return Fail(name, "an array of strings"), out;
    for (const json::value& e : v->as_array()) {
      if (!e.is_string()) return Fail(name, "an array of strings"), out;
      out.emplace_back(e.as_string());
    }
    return out;
  }
  std::map<std::string, std::string> StrMap(std::string_view name) {
    std::map<std::string, std::string> out;
    const json::value* v = args_.if_contains(name);
    if (!v || v->is_null()) return out;
    if (!v->is_object()) return Fail(name, "an object of strings"), out;
    for (const auto& [k, e] : v->as_object()) {
      if (!e.is_string()) return Fail(name, "an object of strings"), out;
      out.emplace(std::string(k), std::string(e.as_string()));
    }
    return out;
  }
  std::string Required(std::string_view name) {
    std::string s = Str(name);
    if (s.empty() && status_.ok()) Fail(name, "a non-empty string (it is required)");
    return s;
  }

 private:
  void Fail(std::string_view name, const std::string& what) {
    if (!status_.ok()) return;
    status_ = InvalidArgument("argument " + std::string(name) + " must be " + what,
                              "see the tool's inputSchema (tools/list)");
  }
  const json::object& args_;
  Status status_;
};

using ToolFn = Result<json::object> (*)(Backend&, ArgReader&, const ProgressFn&);

json::value ExitCode(int32_t code, bool exited) {
  if (!exited || code < 0) return nullptr;
  return code;
}

json::object TaskSummary(const mesh::Task& t) {
  const mesh::Attempt* last = t.attempts.empty() ? nullptr : &t.attempts.back();
  const bool exited = mesh::IsTerminal(t.state) && t.state != mesh::TaskState::kCancelled;
  return {{"task_id", t.id},
          {"state", mesh::ToString(t.state)},
          {"ended", mesh::IsTerminal(t.state)},
          {"exit_code", ExitCode(t.exit_code, exited)},
          {"node_id", last ? last->node_id : std::string()},
          {"attempts", t.attempts.size()},
          {"pending_reason", t.pending_reason},
          {"error", last ? last->error : std::string()}};
}

Result<json::object> MeshStatus(Backend& backend, ArgReader&, const ProgressFn&) {
  POPULI_ASSIGN_OR_RETURN(mesh::NodeList list, backend.Nodes());
  json::object by_state;
  int64_t gpus = 0, gpus_free = 0;
  uint64_t free_vram = 0;
  const std::string self = backend.LocalNodeId();
  json::value paired = nullptr;
  for (const mesh::NodeRecord& n : list.nodes) {
    const std::string state(mesh::ToString(n.state));
    by_state[state] = (by_state.contains(state) ? by_state[state].as_int64() : 0) + 1;
    if (!self.empty() && n.id == self) paired = static_cast<int64_t>(n.paired_with.size());
    if (n.state != mesh::NodeState::kAlive) continue;
    for (const mesh::GpuDevice& g : n.gpus) {
      ++gpus;
      const uint64_t free =
          g.memory_allocatable_bytes ? g.memory_allocatable_bytes : g.memory_free_bytes;
      free_vram += free;
      if (g.memory_total_bytes && free * 2 >= g.memory_total_bytes) ++gpus_free;
    }
  }
  return json::object{{"nodes_total", list.nodes.size()},
                      {"nodes_by_state", std::move(by_state)},
                      {"gpus_total", gpus},
                      {"gpus_free", gpus_free},
                      {"free_vram_bytes", free_vram},
                      {"local_node_id", self},
                      {"paired_peers", paired}};
}

Result<json::object> ListNodes(Backend& backend, ArgReader&, const ProgressFn&) {
  POPULI_ASSIGN_OR_RETURN(mesh::NodeList list, backend.Nodes());
  json::array nodes;
  for (const mesh::NodeRecord& n : list.nodes) {
    json::array names;
    uint64_t free_vram = 0;
    for (const mesh::GpuDevice& g : n.gpus) {
      names.emplace_back(g.name);
      free_vram += g.memory_allocatable_bytes ? g.memory_allocatable_bytes : g.memory_free_bytes;
    }
    json::object labels;
    for (const auto& [k, v] : n.labels) labels[k] = v;
    nodes.push_back(json::object{{"id", n.id},
                                 {"state", mesh::ToString(n.state)},
                                 {"host", n.host},
                                 {"version", n.version},
                                 {"labels", std::move(labels)},
                                 {"cpus", n.cpu.threads},
                                 {"gpus", n.gpus.size()},
                                 {"gpu_names", std::move(names)},
                                 {"free_vram_bytes", free_vram},
                                 {"last_seen_ms", std::max<int64_t>(0, n.last_seen_ms)}});
  }
  return json::object{{"nodes", std::move(nodes)}};
}

Result<json::object> SubmitTask(Backend& backend, ArgReader& args, const ProgressFn&) {
  mesh::TaskSpec spec;
  spec.command = args.Required("command");
  spec.args = args.StrList("args");
  spec.resources.cpus = static_cast<uint32_t>(args.Int("cpus", 0, 0, 1 << 20));
  spec.resources.memory_bytes = static_cast<uint64_t>(args.Int("memory_bytes", 0, 0, INT64_MAX));
  spec.resources.gpus = static_cast<uint32_t>(args.Int("gpus", 0, 0, 1024));
  spec.timeout_ms = args.Int("timeout_ms", 0, 0, INT64_MAX);
  spec.max_attempts = static_cast<int32_t>(args.Int("max_attempts", 3, 1, 10));
  spec.constraints.required_labels = args.StrMap("required_labels");
  spec.constraints.node_allow = args.StrList("node_allow");
  spec.client_key = args.Str("client_key");
  POPULI_RETURN_IF_ERROR(args.status());
  POPULI_ASSIGN_OR_RETURN(Submitted submitted, backend.Submit(spec));
  const mesh::Task& task = submitted.task;
  // Where it will most likely run, as the scheduler explains it: the placed attempt's node and
  // its placement summary, or why it is still pending.
  std::string node, reason = task.pending_reason;
  if (auto why = backend.Explain(task.id); why.ok()) {
    reason = why->pending_reason;
    if (!why->attempts.empty()) {
      node = why->attempts.back().node_id;
      reason = why->attempts.back().placement_summary;
    }
  }
  return json::object{{"task_id", task.id},
                      {"state", mesh::ToString(task.state)},
                      {"created", submitted.created},
                      {"likely_node_id", node},
                      {"reason", reason}};
}

Result<json::object> WaitTask(Backend& backend, ArgReader& args, const ProgressFn& progress) {
  const std::string id = args.Required("task_id");
  const int64_t wait_ms = args.Int("wait_ms", kDefaultWaitMs, 0, kMaxWaitMs);
  POPULI_RETURN_IF_ERROR(args.status());
  // Waits in slices so progress can be reported between them.
  constexpr int64_t kSliceMs = 2'000;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&start] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
  };
  mesh::Task task;
  while (true) {
    const int64_t left = wait_ms - elapsed();
    POPULI_ASSIGN_OR_RETURN(task, backend.Wait(id, std::clamp<int64_t>(left, 0, kSliceMs)));
    if (mesh::IsTerminal(task.state) || elapsed() >= wait_ms) break;
    if (progress) {
      progress(static_cast<double>(elapsed()), static_cast<double>(wait_ms),
               "task " + task.id + " is " + std::string(mesh::ToString(task.state)));
    }
  }
  json::object out = TaskSummary(task);
  out["timed_out"] = !mesh::IsTerminal(task.state);
  return out;
}

Result<json::object> TaskLogs(Backend& backend, ArgReader& args, const ProgressFn&) {
  const std::string id = args.Required("task_id");
  const int64_t after = args.Int("after", 0, 0, INT64_MAX);
  POPULI_RETURN_IF_ERROR(args.status());
  POPULI_ASSIGN_OR_RETURN(mesh::LogPage page, backend.Logs(id, after));
  json::array logs;
  std::string out, err;
  for (const mesh::LogRecord& r : page.logs) {
    logs.push_back(json::object{{"seq", r.seq},
                                {"attempt", r.attempt},
                                {"stream", r.stream},
                                {"data", r.data},
                                {"ts_ms", r.ts_ms}});
    if (r.stream == "stdout") out += r.data;
    if (r.stream == "stderr") err += r.data;
  }
  return json::object{{"task_id", id},           {"state", mesh::ToString(page.state)},
                      {"logs", std::move(logs)}, {"next_after", page.next_after},
                      {"stdout", out},           {"stderr", err}};
}

Result<json::object> CancelTask(Backend& backend, ArgReader& args, const ProgressFn&) {
  const std::string id = args.Required("task_id");
  POPULI_RETURN_IF_ERROR(args.status());
  POPULI_ASSIGN_OR_RETURN(mesh::Task task, backend.Cancel(id));
  return TaskSummary(task);
}

Result<json::object> ExplainTask(Backend& backend, ArgReader& args, const ProgressFn&) {
  const std::string id = args.Required("task_id");
  POPULI_RETURN_IF_ERROR(args.status());
  POPULI_ASSIGN_OR_RETURN(mesh::TaskExplanation why, backend.Explain(id));
  json::array attempts;
  for (const mesh::ExplainedAttempt& a : why.attempts) {
    const bool exited =
        a.state == mesh::AttemptState::kSucceeded || a.state == mesh::AttemptState::kFailed;
    attempts.push_back(json::object{{"number", a.number},
                                    {"node_id", a.node_id},
                                    {"dispatch", mesh::ToString(a.dispatch)},
                                    {"state", mesh::ToString(a.state)},
                                    {"placement_summary", a.placement_summary},
                                    {"error", a.error},
                                    {"exit_code", ExitCode(a.exit_code, exited)}});
  }
  return json::object{{"task_id", why.task_id},
                      {"state", mesh::ToString(why.state)},
                      {"pending_reason", why.pending_reason},
                      {"attempts", std::move(attempts)}};
}

Result<json::object> A2ASend(Backend& backend, ArgReader& args, const ProgressFn&) {
  mesh::NewMessage m;
  m.receiver = args.Required("receiver");
  m.message_type = args.Required("message_type");
  m.payload = args.Str("payload");
  m.sender = args.Str("sender");
  m.idempotency_key = args.Str("idempotency_key");
  m.priority = static_cast<uint8_t>(args.Int("priority", 128, 0, 255));
  POPULI_RETURN_IF_ERROR(args.status());
  if (m.message_type.rfind("secret_", 0) == 0) {
    return InvalidArgument("a2a_send does not carry secret messages",
                           "share secrets with `vox populi secret` (docs/secrets.md)");
  }
  if (m.sender.empty()) m.sender = backend.LocalNodeId();
  if (m.sender.empty()) m.sender = "mcp";
  if (const obs::TraceContext* trace = obs::CurrentContext()) m.traceparent = trace->Traceparent();
  POPULI_ASSIGN_OR_RETURN(mesh::DeliverReply reply, backend.Deliver(m));
  return json::object{{"message_id", reply.message_id}, {"duplicate", reply.duplicate}};
}

json::object MessageJson(const mesh::A2AMessage& m) {
  const bool sealed = m.message_type.rfind("secret_", 0) == 0 || !m.jwe_payload.empty();
  return {{"id", m.id},
          {"sender", m.sender},
          {"message_type", m.message_type},
          {"payload", sealed ? std::string() : m.payload},
          {"created_ms", m.created_ms},
          {"delivery_count", m.delivery_count}};
}

Result<json::object> A2AReceive(Backend& backend, ArgReader& args, const ProgressFn&) {
  mesh::InboxRequest request;
  request.receiver = args.Required("receiver");
  request.claimer_node_id = args.Str("claimer_node_id", backend.LocalNodeId());
  request.max_messages = static_cast<int32_t>(args.Int("max_messages", 10, 1, 100));
  request.wait_ms = args.Int("wait_ms", 0, 0, 30'000);
  POPULI_RETURN_IF_ERROR(args.status());
  if (request.claimer_node_id.empty()) {
    return InvalidArgument("a2a_receive needs claimer_node_id: this server speaks for no node",
                           "pass the id of a node of the mesh (list_nodes) as claimer_node_id");
  }
  POPULI_ASSIGN_OR_RETURN(mesh::InboxPage page, backend.Inbox(request));
  json::array messages, acked;
  // One claim token per claim: acknowledge the claimed messages with it.
  std::map<std::string, std::vector<int64_t>> by_token;
  for (const mesh::A2AMessage& m : page.messages) {
    messages.push_back(MessageJson(m));
    by_token[m.claim_token].push_back(m.id);
  }
  for (auto& [token, ids] : by_token) {
    mesh::AckRequest ack;
    ack.receiver = request.receiver;
    ack.message_ids = ids;
    ack.claim_token = token;
    POPULI_ASSIGN_OR_RETURN(mesh::AckReply reply, backend.Ack(ack));
    for (int64_t id : reply.acked) acked.push_back(id);
  }
  return json::object{{"messages", std::move(messages)}, {"acked", std::move(acked)}};
}

Result<json::object> EventsSince(Backend& backend, ArgReader& args, const ProgressFn&) {
  const int64_t after = args.Int("after", 0, 0, INT64_MAX);
  const int limit = static_cast<int>(args.Int("limit", 100, 1, 1000));
  POPULI_RETURN_IF_ERROR(args.status());
  POPULI_ASSIGN_OR_RETURN(mesh::EventPage page, backend.Events(after, limit));
  json::array events;
  for (const mesh::Event& e : page.events) {
    json::object o = mesh::ToJson(e);
    if (!o.contains("data") || !o["data"].is_object()) o["data"] = json::object{};
    events.push_back(std::move(o));
  }
  return json::object{{"events", std::move(events)}, {"next_after", page.next_after}};
}

ToolFn FindFn(std::string_view name) {
  static const std::map<std::string_view, ToolFn> fns = {
      {"mesh_status", MeshStatus},   {"list_nodes", ListNodes}, {"submit_task", SubmitTask},
      {"wait_task", WaitTask},       {"task_logs", TaskLogs},   {"cancel_task", CancelTask},
      {"explain_task", ExplainTask}, {"a2a_send", A2ASend},     {"a2a_receive", A2AReceive},
      {"events_since", EventsSince}};
  auto it = fns.find(name);
  return it == fns.end() ? nullptr : it->second;
}

json::object ToolError(const Status& s, const std::string& traceparent) {
  json::object error{{"code", CodeName(s.code())}, {"message", s.message()}, {"hint", s.hint()}};
  json::object body{{"error", std::move(error)}};
  if (!traceparent.empty()) body["traceparent"] = traceparent;
  return {{"content", json::array{json::object{{"type", "text"}, {"text", json::serialize(body)}}}},
          {"isError", true}};
}

}  // namespace

json::object CallTool(Backend& backend, const ToolSpec& tool, const json::object& arguments,
                      const ProgressFn& progress) {
  obs::TraceContext trace;
  if (const json::value* tp = arguments.if_contains("traceparent"); tp && !tp->is_null()) {
    auto parsed = tp->is_string() ? obs::ParseTraceparent(tp->as_string())
                                  : Result<obs::TraceContext>(InvalidArgument(
                                        "traceparent must be a string", "omit it or pass one"));
    if (!parsed.ok()) {
      return ToolError(
          Status(Code::kInvalidArgument, "argument traceparent: " + parsed.status().message(),
                 "pass a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>) or omit it"),
          {});
    }
    trace = *parsed;
  } else if (const obs::TraceContext* current = obs::CurrentContext()) {
    trace = *current;
  } else {
    trace = obs::NewRootContext();
  }
  const std::string traceparent = trace.Traceparent();
  obs::ScopedContext scope(trace);
  ToolFn fn = FindFn(tool.name);
  if (!fn) return ToolError(Internal("tool " + tool.name + " has no implementation", "-"), {});
  ArgReader args(arguments);
  Result<json::object> out = fn(backend, args, progress);
  if (!out.ok()) return ToolError(out.status(), traceparent);
  (*out)["traceparent"] = traceparent;
  return {{"content", json::array{json::object{{"type", "text"}, {"text", json::serialize(*out)}}}},
          {"structuredContent", std::move(*out)},
          {"isError", false}};
}

}  // namespace populi::mcp
