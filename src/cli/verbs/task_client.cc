// The task verbs' shared client, Task reading, log following and exit-code rule (contracts in
// task_client.h).
#include "cli/verbs/task_client.h"

#include "mesh/task_json.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <ostream>
#include <thread>

#include "mesh/json.h"

namespace populi::cli {

namespace json = boost::json;

Status MalformedReply(std::string what) {
  return Internal("the control plane sent " + std::move(what),
                  "check that the CLI and the control plane are the same version");
}

namespace {

// `id` as one URL path segment: anything but unreserved characters is percent-encoded.
std::string PathSegment(std::string_view id) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : id) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

}  // namespace

std::string TaskPath(std::string_view id, std::string_view suffix) {
  return "/v1/populi/tasks/" + PathSegment(id) + std::string(suffix);
}

std::string JsonString(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

int64_t JsonInt(const json::object& o, const char* key, int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return fallback;
}

Result<mesh::Task> ParseTaskDocument(const json::value& v) {
  auto task = mesh::TaskFromJson(v);
  if (!task.ok()) return MalformedReply("a task document (" + task.status().message() + ")");
  if (task->id.empty()) return MalformedReply("a task without an id");
  return task;
}

Result<json::value> ReplyJson(const client::ClientResponse& response, const std::string& what) {
  auto doc = mesh::ParseJson(response.body, 64);
  if (!doc.ok()) return MalformedReply("a reply to " + what + " that is not JSON");
  return std::move(*doc);
}

Result<mesh::Task> RequestTask(client::HttpClient& http, std::string_view method,
                               const std::string& path, int timeout_ms, json::value* raw) {
  auto response = http.Send(method, path, {}, {}, timeout_ms);
  if (!response.ok()) return ControlPlaneStatus(response.status());
  POPULI_ASSIGN_OR_RETURN(json::value doc, ReplyJson(*response, path));
  POPULI_ASSIGN_OR_RETURN(mesh::Task task, ParseTaskDocument(doc));
  if (raw != nullptr) *raw = std::move(doc);
  return task;
}

int TaskExitCode(Context& ctx, const mesh::Task& task) {
  switch (task.state) {
    case mesh::TaskState::kSucceeded:
      return task.exit_code > 0 && task.exit_code <= 255 ? task.exit_code : kExitOk;
    case mesh::TaskState::kCancelled:
      *ctx.err << "task " << task.id << " was cancelled\n";
      return 130;
    case mesh::TaskState::kFailed:
      break;
    default:
      return kExitFailure;  // not ended: callers only ask for ended tasks
  }
  if (task.exit_code > 0 && task.exit_code <= 255) return task.exit_code;
  std::string error = task.attempts.empty() ? std::string() : task.attempts.back().error;
  if (error.empty()) error = task.pending_reason;
  std::string message = "task " + task.id + " failed";
  if (task.exit_code == 0 || task.exit_code > 255) {
    message += " with exit code " + std::to_string(task.exit_code);
  }
  if (!error.empty()) message += ": " + Printable(error);
  if (!task.attempts.empty()) {
    message += " (attempt " + std::to_string(task.attempts.back().number) + " of " +
               std::to_string(task.spec.max_attempts) + ")";
  }
  ctx.Fail(
      FailedPrecondition(message, "see every attempt with `vox populi explain " + task.id + "`"));
  return kExitFailure;
}

std::string TaskStateLine(const mesh::Task& task) {
  std::string line = Printable(task.id) + " " + std::string(mesh::ToString(task.state));
  const mesh::Attempt* last = task.attempts.empty() ? nullptr : &task.attempts.back();
  switch (task.state) {
    case mesh::TaskState::kPending:
      if (!task.pending_reason.empty()) line += ": " + Printable(task.pending_reason);
      break;
    case mesh::TaskState::kPlaced:
    case mesh::TaskState::kRunning:
      if (last != nullptr && !last->node_id.empty()) line += " on " + Printable(last->node_id);
      break;
    case mesh::TaskState::kSucceeded:
    case mesh::TaskState::kFailed:
      if (task.exit_code >= 0) {
        line += " (exit " + std::to_string(task.exit_code) + ")";
      } else if (last != nullptr && !last->error.empty()) {
        line += ": " + Printable(last->error);
      }
      break;
    case mesh::TaskState::kCancelled:
      break;
  }
  return line;
}

namespace {

// Writes one log record {"seq","attempt","stream","data","ts_ms"}: stdout chunks to ctx.out,
// stderr chunks to ctx.err (or the record as one JSON line with `json_lines`). Returns its seq.
int64_t WriteLogRecord(Context& ctx, const json::value& record, bool json_lines) {
  if (!record.is_object()) return -1;
  const json::object& o = record.as_object();
  if (json_lines) {
    *ctx.out << json::serialize(o) << "\n" << std::flush;
  } else {
    const std::string data = JsonString(o, "data");
    std::ostream& to = JsonString(o, "stream") == "stderr" ? *ctx.err : *ctx.out;
    to << data << std::flush;
  }
  return JsonInt(o, "seq", -1);
}

}  // namespace

Result<LogPage> ReadLogPage(Context& ctx, client::HttpClient& http, const std::string& id,
                            int64_t after, bool json_lines, json::array* collected) {
  const std::string path = TaskPath(id, "/logs?after=" + std::to_string(after));
  auto response = http.Send("GET", path, {}, {}, 30'000);
  if (!response.ok()) return ControlPlaneStatus(response.status());
  POPULI_ASSIGN_OR_RETURN(json::value doc, ReplyJson(*response, path));
  const json::object* o = doc.if_object();
  const json::value* logs = o != nullptr ? o->if_contains("logs") : nullptr;
  if (logs == nullptr || !logs->is_array()) return MalformedReply("a log page without a logs list");
  LogPage page;
  page.next_after = after;
  for (const json::value& record : logs->as_array()) {
    if (collected != nullptr) {
      collected->push_back(record);
    } else {
      WriteLogRecord(ctx, record, json_lines);
    }
    if (record.is_object()) {
      page.next_after = std::max(page.next_after, JsonInt(record.as_object(), "seq", after));
    }
    ++page.count;
  }
  page.next_after = std::max(page.next_after, JsonInt(*o, "next_after", page.next_after));
  auto state = mesh::ParseTaskState(JsonString(*o, "state"));
  page.ended = state.ok() && mesh::IsTerminal(*state);
  return page;
}

Status FollowTaskLogs(Context& ctx, client::HttpClient& http, const std::string& id, int64_t after,
                      bool json_lines) {
  bool ended = false;
  json::value end;
  const Status streamed = http.StreamEvents(
      TaskPath(id, "/logs?after=" + std::to_string(after)), [&](const client::SseEvent& event) {
        if (event.event == "end") {
          ended = true;
          auto doc = mesh::ParseJson(event.data, 16);
          if (doc.ok()) end = std::move(*doc);
          return false;
        }
        if (event.event != "log") return true;  // comments, keep-alives, future events
        auto doc = mesh::ParseJson(event.data, 16);
        if (!doc.ok() || !doc->is_object()) return true;
        // A record already written (a resent event) is not written twice.
        const int64_t seq = JsonInt(doc->as_object(), "seq", -1);
        if (seq >= 0 && seq <= after) return true;
        after = std::max(after, WriteLogRecord(ctx, *doc, json_lines));
        return true;
      });
  if (ended) {
    if (json_lines) {
      if (!end.is_object()) end = json::object();
      *ctx.out << json::serialize(json::object{{"end", end}}) << "\n";
    }
    return Status::Ok();
  }
  // Unknown task or refused token: polling would only repeat the answer.
  if (streamed.code() == Code::kNotFound || streamed.code() == Code::kUnauthenticated ||
      streamed.code() == Code::kPermissionDenied) {
    return ControlPlaneStatus(streamed);
  }
  while (true) {
    POPULI_ASSIGN_OR_RETURN(LogPage page, ReadLogPage(ctx, http, id, after, json_lines, nullptr));
    const bool progressed = page.next_after > after;
    after = page.next_after;
    if (page.count > 0 && progressed) continue;  // drain before looking at the state
    if (page.ended) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (json_lines) {
    auto task = RequestTask(http, "GET", TaskPath(id, ""), 30'000, nullptr);
    if (!task.ok()) return task.status();
    *ctx.out << json::serialize(
                    json::object{{"end", json::object{{"state", mesh::ToString(task->state)},
                                                      {"exit_code", task->exit_code}}}})
             << "\n";
  }
  return Status::Ok();
}

Result<std::unique_ptr<client::HttpClient>> TaskClient(Context& ctx, config::Config* cfg_out) {
  POPULI_ASSIGN_OR_RETURN(config::Config cfg, LoadConfig(ctx));
  POPULI_ASSIGN_OR_RETURN(std::string url, ResolveControlUrl(ctx, cfg));
  auto http = ControlClient(cfg, url, /*with_token=*/true);
  http->set_retry_policy({.max_attempts = 3, .initial_backoff_ms = 100, .max_backoff_ms = 2'000});
  if (cfg_out != nullptr) *cfg_out = std::move(cfg);
  return http;
}

}  // namespace populi::cli
