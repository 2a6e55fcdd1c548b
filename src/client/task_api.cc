// ControlPlaneApi: the task calls — submit, list, get, wait, cancel, explain, logs and following
// them — and the agent's attempt reports (docs/tasks.md).
#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "client/api_call.h"
#include "client/control_plane_api.h"
#include "mesh/replies_json.h"
#include "mesh/task_json.h"

namespace populi::client {
namespace {

using internal::Call;
using internal::Escape;

// "/v1/populi/tasks/<id><suffix>", the id as one path segment.
std::string TaskPath(const std::string& id, std::string_view suffix) {
  return "/v1/populi/tasks/" + Escape(id) + std::string(suffix);
}

std::string LogsPath(const std::string& id, int64_t after) {
  return TaskPath(id, "/logs?after=" + std::to_string(after));
}

// How often FollowLogs polls once the event stream is gone.
constexpr std::chrono::milliseconds kLogPollInterval{200};

}  // namespace

Result<Submitted> ControlPlaneApi::Submit(const mesh::TaskSpec& spec, CallOptions options) {
  HeaderList headers;
  if (!spec.client_key.empty()) headers.emplace_back("idempotency-key", spec.client_key);
  const std::string path = "/v1/populi/tasks";
  POPULI_ASSIGN_OR_RETURN(
      ClientResponse response,
      http_->Send("POST", path, mesh::Serialize(mesh::ToJson(spec)), headers, Timeout(options)));
  Submitted out;
  out.created = response.status == 201;
  POPULI_ASSIGN_OR_RETURN(
      out.task, internal::DecodeReply<mesh::Task>(response.body, base_url(), "POST " + path,
                                                  mesh::TaskFromJson));
  return out;
}

Result<mesh::TaskList> ControlPlaneApi::ListTasks(const TaskQuery& query, CallOptions options) {
  std::string path = "/v1/populi/tasks";
  char separator = '?';
  if (query.limit > 0) {
    path += separator + std::string("limit=") + std::to_string(query.limit);
    separator = '&';
  }
  if (!query.state.empty()) path += separator + std::string("state=") + Escape(query.state);
  return Call<mesh::TaskList>(*http_, "GET", path, {}, Timeout(options), mesh::TaskListFromJson);
}

Result<mesh::Task> ControlPlaneApi::GetTask(const std::string& id, CallOptions options) {
  return Call<mesh::Task>(*http_, "GET", TaskPath(id, ""), {}, Timeout(options),
                          mesh::TaskFromJson);
}

Result<mesh::Task> ControlPlaneApi::Wait(const std::string& id, int64_t wait_ms,
                                         CallOptions options) {
  wait_ms = std::max<int64_t>(wait_ms, 0);
  return Call<mesh::Task>(*http_, "GET",
                          TaskPath(id, "/wait?timeout_ms=" + std::to_string(wait_ms)), {},
                          Timeout(options, wait_ms, 15'000), mesh::TaskFromJson);
}

Result<mesh::Task> ControlPlaneApi::Cancel(const std::string& id, CallOptions options) {
  return Call<mesh::Task>(*http_, "POST", TaskPath(id, "/cancel"), {}, Timeout(options),
                          mesh::TaskFromJson);
}

Result<mesh::TaskExplanation> ControlPlaneApi::Explain(const std::string& id, CallOptions options) {
  return Call<mesh::TaskExplanation>(*http_, "GET", TaskPath(id, "/explain"), {}, Timeout(options),
                                     mesh::TaskExplanationFromJson);
}

Result<mesh::LogPage> ControlPlaneApi::Logs(const std::string& id, int64_t after,
                                            CallOptions options) {
  return Call<mesh::LogPage>(*http_, "GET", LogsPath(id, after), {}, Timeout(options),
                             mesh::LogPageFromJson);
}

Result<mesh::LogEnd> ControlPlaneApi::FollowLogs(const std::string& id, int64_t after,
                                                 const LogRecordSink& on_record) {
  std::optional<mesh::LogEnd> end;
  const std::string path = LogsPath(id, after);
  const Status streamed = http_->StreamEvents(path, [&](const SseEvent& event) {
    if (event.event != "log" && event.event != "end") return true;  // keep-alives, future kinds
    // An event this client cannot read ends the stream; the pages below read the same records
    // and report what is wrong with them.
    auto doc = mesh::ParseJson(event.data, 16);
    if (!doc.ok()) return false;
    if (event.event == "end") {
      auto ended = mesh::LogEndFromJson(*doc);
      if (ended.ok()) end = *ended;
      return false;
    }
    auto record = mesh::LogRecordFromJson(*doc);
    if (!record.ok()) return false;
    if (record->seq <= after) return true;  // resent after a reconnect: written already
    on_record(*record);
    after = record->seq;
    return true;
  });
  if (end) return *end;
  // Unknown task or refused credential: polling would only repeat the answer.
  if (streamed.code() == Code::kNotFound || streamed.code() == Code::kUnauthenticated ||
      streamed.code() == Code::kPermissionDenied) {
    return streamed;
  }
  for (;;) {
    POPULI_ASSIGN_OR_RETURN(mesh::LogPage page, Logs(id, after));
    const int64_t before = after;
    for (const mesh::LogRecord& record : page.logs) {
      if (record.seq <= after) continue;
      on_record(record);
      after = record.seq;
    }
    after = std::max(after, page.next_after);
    if (!page.logs.empty() && after > before) continue;  // drain before looking at the state
    if (mesh::IsTerminal(page.state)) break;
    std::this_thread::sleep_for(kLogPollInterval);
  }
  POPULI_ASSIGN_OR_RETURN(mesh::Task task, GetTask(id));
  return mesh::LogEnd{task.state, task.exit_code};
}

Status ControlPlaneApi::ReportStart(const std::string& task_id, const mesh::AttemptReport& report,
                                    CallOptions options) {
  return http_
      ->Send("POST", TaskPath(task_id, "/start"), mesh::Serialize(mesh::ToJson(report)), {},
             Timeout(options))
      .status();
}

Status ControlPlaneApi::ReportLogs(const std::string& task_id, const mesh::LogsReport& report,
                                   CallOptions options) {
  return http_
      ->Send("POST", TaskPath(task_id, "/logs"), mesh::Serialize(mesh::ToJson(report)), {},
             Timeout(options))
      .status();
}

Status ControlPlaneApi::ReportResult(const std::string& task_id, const mesh::ResultReport& report,
                                     CallOptions options) {
  return http_
      ->Send("POST", TaskPath(task_id, "/result"), mesh::Serialize(mesh::ToJson(report)), {},
             Timeout(options))
      .status();
}

}  // namespace populi::client
