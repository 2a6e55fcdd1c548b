// Codecs of the task replies (mesh/replies_json.h): the task list, log records, pages and the end
// of a log stream, and explain.
#include <limits>
#include <utility>

#include "mesh/json_internal.h"
#include "mesh/replies_json.h"
#include "mesh/task_json.h"

namespace populi::mesh {
namespace json = boost::json;
using namespace json_internal;  // NOLINT(google-build-using-namespace)
namespace {

Result<ExplainedAttempt> ExplainedAttemptAt(const json::value& v, const std::string& path) {
  Reader r(v, path);
  ExplainedAttempt a;
  r.Num("number", a.number);
  r.Str("node_id", a.node_id);
  r.Enum("dispatch", a.dispatch, ParseDispatchKind);
  r.Enum("state", a.state, ParseAttemptState);
  r.Str("placement_summary", a.placement_summary);
  r.Str("error", a.error);
  r.Num("exit_code", a.exit_code);
  if (!r.ok()) return r.status();
  return a;
}

}  // namespace

json::object ToJson(const TaskList& l) {
  json::array tasks;
  for (const Task& t : l.tasks) tasks.push_back(ToJson(t));
  return json::object{{"tasks", std::move(tasks)}};
}

Result<TaskList> TaskListFromJson(const json::value& v) {
  Reader r(v, "");
  TaskList l;
  RequiredList(r, "tasks", l.tasks, Element(TaskFromJson));
  if (!r.ok()) return r.status();
  return l;
}

json::object ToJson(const LogRecord& c) {
  return json::object{{"seq", c.seq},
                      {"attempt", c.attempt},
                      {"stream", c.stream},
                      {"data", c.data},
                      {"ts_ms", c.ts_ms}};
}

Result<LogRecord> LogRecordFromJson(const json::value& v) {
  Reader r(v, "");
  LogRecord c;
  r.Int("seq", c.seq, 0, std::numeric_limits<int64_t>::max(), true);
  r.Num("attempt", c.attempt);
  r.Str("stream", c.stream, true);
  r.Str("data", c.data);
  r.Int("ts_ms", c.ts_ms);
  if (!r.ok()) return r.status();
  if (c.stream != "stdout" && c.stream != "stderr" && c.stream != "system")
    return InvalidArgument("stream: unknown output stream '" + c.stream + "'",
                           "a log record's stream is stdout, stderr or system");
  return c;
}

json::object ToJson(const LogPage& p) {
  json::array logs;
  for (const LogRecord& c : p.logs) logs.push_back(ToJson(c));
  return json::object{
      {"logs", std::move(logs)}, {"next_after", p.next_after}, {"state", ToString(p.state)}};
}

Result<LogPage> LogPageFromJson(const json::value& v) {
  Reader r(v, "");
  LogPage p;
  RequiredList(r, "logs", p.logs, Element(LogRecordFromJson));
  r.Int("next_after", p.next_after);
  std::string state;
  r.Str("state", state, true);
  r.Enum("state", p.state, ParseTaskState);
  if (!r.ok()) return r.status();
  return p;
}

json::object ToJson(const LogEnd& e) {
  return json::object{{"state", ToString(e.state)}, {"exit_code", e.exit_code}};
}

Result<LogEnd> LogEndFromJson(const json::value& v) {
  Reader r(v, "");
  LogEnd e;
  std::string state;
  r.Str("state", state, true);
  r.Enum("state", e.state, ParseTaskState);
  r.Num("exit_code", e.exit_code);
  if (!r.ok()) return r.status();
  return e;
}

json::object ToJson(const TaskExplanation& x) {
  json::array attempts;
  for (const ExplainedAttempt& a : x.attempts) {
    attempts.push_back(json::object{{"number", a.number},
                                    {"node_id", a.node_id},
                                    {"dispatch", ToString(a.dispatch)},
                                    {"state", ToString(a.state)},
                                    {"placement_summary", a.placement_summary},
                                    {"error", a.error},
                                    {"exit_code", a.exit_code}});
  }
  return json::object{{"task_id", x.task_id},
                      {"state", ToString(x.state)},
                      {"pending_reason", x.pending_reason},
                      {"attempts", std::move(attempts)}};
}

Result<TaskExplanation> TaskExplanationFromJson(const json::value& v) {
  Reader r(v, "");
  TaskExplanation x;
  r.Str("task_id", x.task_id, true);
  std::string state;
  r.Str("state", state, true);
  r.Enum("state", x.state, ParseTaskState);
  r.Str("pending_reason", x.pending_reason);
  r.List("attempts", x.attempts, ExplainedAttemptAt);
  if (!r.ok()) return r.status();
  return x;
}

}  // namespace populi::mesh
