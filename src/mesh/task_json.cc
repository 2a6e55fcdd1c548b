#include "mesh/task_json.h"

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "mesh/json_internal.h"

namespace populi::mesh {
namespace json = boost::json;
using namespace json_internal;  // NOLINT(google-build-using-namespace)
namespace {

Result<std::string> StringItem(const json::value& e, const std::string& path) {
  if (!e.is_string())
    return InvalidArgument(path + ": expected a string", "see docs/api.md for the field's type");
  return std::string(e.get_string());
}

void PutStrings(json::object& o, std::string_view key, const std::vector<std::string>& items) {
  if (items.empty()) return;
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  o[key] = std::move(a);
}

void PutStrMap(json::object& o, std::string_view key,
               const std::map<std::string, std::string>& items) {
  if (items.empty()) return;
  json::object m;
  for (const auto& [k, v] : items) m[k] = v;
  o[key] = std::move(m);
}

// The nested object at `key`, or nullptr when absent or null. A non-object is an error on `r`.
const json::value* Nested(Reader& r, std::string_view key) {
  if (!r.ok()) return nullptr;
  const json::value* v = r.Raw(key);
  if (v == nullptr || v->is_null()) return nullptr;
  if (!v->is_object()) {
    r.Fail(key, "expected an object");
    return nullptr;
  }
  return v;
}

Status ReadResources(const json::value& v, std::string path, Resources& out) {
  Reader r(v, std::move(path));
  r.Num("cpus", out.cpus);
  r.U64("memory_bytes", out.memory_bytes);
  r.Num("gpus", out.gpus);
  r.U64("gpu_memory_bytes", out.gpu_memory_bytes);
  return r.status();
}

Status ReadConstraints(const json::value& v, std::string path, Constraints& out) {
  Reader r(v, std::move(path));
  r.StrMap("required_labels", out.required_labels);
  r.StrMap("preferred_labels", out.preferred_labels);
  r.List("node_allow", out.node_allow, StringItem);
  r.List("node_deny", out.node_deny, StringItem);
  return r.status();
}

Result<TaskSpec> SpecFromJson(const json::value& v, std::string path) {
  Reader r(v, std::move(path));
  TaskSpec s;
  r.Str("client_key", s.client_key);
  r.Str("kind", s.kind);
  r.Str("command", s.command, true);
  r.List("args", s.args, StringItem);
  r.StrMap("env", s.env);
  r.Str("working_dir", s.working_dir);
  if (const json::value* resources = Nested(r, "resources")) {
    Status status = ReadResources(*resources, r.Path("resources"), s.resources);
    if (!status.ok()) return status;
  }
  if (const json::value* constraints = Nested(r, "constraints")) {
    Status status = ReadConstraints(*constraints, r.Path("constraints"), s.constraints);
    if (!status.ok()) return status;
  }
  r.Enum("privacy_class", s.privacy_class, ParsePrivacyClass);
  r.Num("priority", s.priority);
  r.Int("timeout_ms", s.timeout_ms);
  r.Num("max_attempts", s.max_attempts);
  r.List("secret_names", s.secret_names, StringItem);
  r.Str("traceparent", s.traceparent);
  r.Str("submitter_node_id", s.submitter_node_id);
  if (!r.ok()) return r.status();
  return s;
}

Result<Attempt> AttemptFromJson(const json::value& v, const std::string& path) {
  Reader r(v, path);
  Attempt a;
  r.Num("number", a.number);
  r.Str("node_id", a.node_id);
  r.Str("lease_id", a.lease_id);
  r.Int("fencing_token", a.fencing_token);
  r.Enum("dispatch", a.dispatch, ParseDispatchKind);
  r.Enum("state", a.state, ParseAttemptState);
  r.Int("placed_ms", a.placed_ms);
  r.Int("started_ms", a.started_ms);
  r.Int("ended_ms", a.ended_ms);
  r.Num("exit_code", a.exit_code);
  r.Str("error", a.error);
  r.List("gpu_uuids", a.gpu_uuids, StringItem);
  r.Str("placement_summary", a.placement_summary);
  if (!r.ok()) return r.status();
  return a;
}

}  // namespace

// Small unsigned fields are written as signed integers, which is how a parser reads them back,
// so that decoding an encoded object works without a round trip through text.
json::object ToJson(const Resources& r) {
  json::object o;
  o["cpus"] = int64_t{r.cpus};
  o["memory_bytes"] = r.memory_bytes;
  o["gpus"] = int64_t{r.gpus};
  o["gpu_memory_bytes"] = r.gpu_memory_bytes;
  return o;
}

json::object ToJson(const Constraints& c) {
  json::object o;
  PutStrMap(o, "required_labels", c.required_labels);
  PutStrMap(o, "preferred_labels", c.preferred_labels);
  PutStrings(o, "node_allow", c.node_allow);
  PutStrings(o, "node_deny", c.node_deny);
  return o;
}

json::object ToJson(const TaskSpec& s) {
  json::object o;
  PutStr(o, "client_key", s.client_key);
  o["kind"] = s.kind;
  o["command"] = s.command;
  PutStrings(o, "args", s.args);
  PutStrMap(o, "env", s.env);
  PutStr(o, "working_dir", s.working_dir);
  o["resources"] = ToJson(s.resources);
  o["constraints"] = ToJson(s.constraints);
  o["privacy_class"] = ToString(s.privacy_class);
  o["priority"] = int64_t{s.priority};
  o["timeout_ms"] = s.timeout_ms;
  o["max_attempts"] = s.max_attempts;
  PutStrings(o, "secret_names", s.secret_names);
  PutStr(o, "traceparent", s.traceparent);
  PutStr(o, "submitter_node_id", s.submitter_node_id);
  return o;
}

json::object ToJson(const Attempt& a) {
  json::object o;
  o["number"] = a.number;
  PutStr(o, "node_id", a.node_id);
  PutStr(o, "lease_id", a.lease_id);
  o["fencing_token"] = a.fencing_token;
  o["dispatch"] = ToString(a.dispatch);
  o["state"] = ToString(a.state);
  PutTime(o, "placed_ms", a.placed_ms);
  PutTime(o, "started_ms", a.started_ms);
  PutTime(o, "ended_ms", a.ended_ms);
  o["exit_code"] = a.exit_code;
  PutStr(o, "error", a.error);
  PutStrings(o, "gpu_uuids", a.gpu_uuids);
  PutStr(o, "placement_summary", a.placement_summary);
  return o;
}

json::object ToJson(const Task& t) {
  json::object o;
  o["id"] = t.id;
  o["spec"] = ToJson(t.spec);
  o["state"] = ToString(t.state);
  PutTime(o, "created_ms", t.created_ms);
  PutTime(o, "updated_ms", t.updated_ms);
  PutTime(o, "ended_ms", t.ended_ms);
  o["exit_code"] = t.exit_code;
  PutStr(o, "pending_reason", t.pending_reason);
  if (!t.attempts.empty()) {
    json::array attempts;
    for (const Attempt& a : t.attempts) attempts.push_back(ToJson(a));
    o["attempts"] = std::move(attempts);
  }
  o["schema_version"] = t.schema_version;
  return o;
}

json::object ToJson(const PlacementDecision& d) {
  json::object o;
  o["placed"] = d.placed;
  PutStr(o, "node_id", d.node_id);
  PutStrings(o, "gpu_uuids", d.gpu_uuids);
  o["nodes_considered"] = d.nodes_considered;
  if (!d.rejected.empty()) {
    json::object rejected;
    for (const auto& [reason, nodes] : d.rejected) rejected[reason] = nodes;
    o["rejected"] = std::move(rejected);
  }
  PutStr(o, "summary", d.summary);
  return o;
}

Result<TaskSpec> TaskSpecFromJson(const json::value& v) {
  return SpecFromJson(v, "");
}

Result<Task> TaskFromJson(const json::value& v) {
  Reader r(v, "");
  Task t;
  r.Str("id", t.id, true);
  const json::value* spec = Nested(r, "spec");
  if (spec == nullptr) r.Fail("spec", "required field is missing");
  if (!r.ok()) return r.status();
  POPULI_ASSIGN_OR_RETURN(t.spec, SpecFromJson(*spec, "spec"));
  r.Enum("state", t.state, ParseTaskState);
  r.Int("created_ms", t.created_ms);
  r.Int("updated_ms", t.updated_ms);
  r.Int("ended_ms", t.ended_ms);
  r.Num("exit_code", t.exit_code);
  r.Str("pending_reason", t.pending_reason);
  r.List("attempts", t.attempts, AttemptFromJson);
  r.Num("schema_version", t.schema_version);
  if (!r.ok()) return r.status();
  return t;
}

// ---- the agent ↔ control plane task protocol ----

json::object ToJson(const TaskAssignment& a) {
  json::object o{{"task_id", a.task_id},
                 {"attempt", a.attempt},
                 {"lease_id", a.lease_id},
                 {"fencing_token", a.fencing_token},
                 {"lease_ttl_ms", a.lease_ttl_ms}};
  PutStrings(o, "gpu_uuids", a.gpu_uuids);
  o["spec"] = ToJson(a.spec);
  return o;
}

Result<TaskAssignment> TaskAssignmentFromJson(const json::value& v) {
  Reader r(v, "");
  TaskAssignment a;
  r.Str("task_id", a.task_id, true);
  int64_t attempt = 0;
  r.Int("attempt", attempt, 1, std::numeric_limits<int32_t>::max(), true);
  a.attempt = static_cast<int32_t>(attempt);
  r.Str("lease_id", a.lease_id, true);
  r.Int("fencing_token", a.fencing_token);
  r.Int("lease_ttl_ms", a.lease_ttl_ms);
  r.List("gpu_uuids", a.gpu_uuids, StringItem);
  const json::value* spec = Nested(r, "spec");
  if (spec == nullptr) r.Fail("spec", "required field is missing");
  if (!r.ok()) return r.status();
  POPULI_ASSIGN_OR_RETURN(a.spec, SpecFromJson(*spec, "spec"));
  return a;
}

namespace {

void PutReport(json::object& o, const AttemptReport& r) {
  o["attempt"] = r.attempt;
  o["node_id"] = r.node_id;
  o["lease_id"] = r.lease_id;
  o["fencing_token"] = r.fencing_token;
}

void ReadReport(Reader& r, AttemptReport& out) {
  int64_t attempt = 0;
  r.Int("attempt", attempt, 1, std::numeric_limits<int32_t>::max(), true);
  out.attempt = static_cast<int32_t>(attempt);
  r.Str("node_id", out.node_id, true);
  r.Str("lease_id", out.lease_id, true);
  r.Int("fencing_token", out.fencing_token);
}

Result<LogChunk> ChunkFromJson(const json::value& v, const std::string& path) {
  Reader r(v, path);
  LogChunk c;
  r.Str("stream", c.stream, true);
  r.Str("data", c.data, true);
  if (!r.ok()) return r.status();
  if (c.stream != "stdout" && c.stream != "stderr" && c.stream != "system")
    return InvalidArgument(path + ".stream: '" + c.stream + "' is unknown",
                           "use stdout, stderr or system");
  return c;
}

}  // namespace

json::object ToJson(const AttemptReport& report) {
  json::object o;
  PutReport(o, report);
  return o;
}

json::object ToJson(const LogsReport& report) {
  json::object o;
  PutReport(o, report);
  json::array chunks;
  for (const auto& c : report.chunks)
    chunks.push_back(json::object{{"stream", c.stream}, {"data", c.data}});
  o["chunks"] = std::move(chunks);
  return o;
}

json::object ToJson(const ResultReport& report) {
  json::object o;
  PutReport(o, report);
  o["exit_code"] = report.exit_code;
  PutStr(o, "error", report.error);
  PutStr(o, "stdout_tail", report.stdout_tail);
  PutStr(o, "stderr_tail", report.stderr_tail);
  PutStr(o, "signature_b64", report.signature_b64);
  return o;
}

Result<AttemptReport> AttemptReportFromJson(const json::value& v) {
  Reader r(v, "");
  AttemptReport out;
  ReadReport(r, out);
  if (!r.ok()) return r.status();
  return out;
}

Result<LogsReport> LogsReportFromJson(const json::value& v) {
  Reader r(v, "");
  LogsReport out;
  ReadReport(r, out);
  r.List("chunks", out.chunks, ChunkFromJson);
  if (!r.ok()) return r.status();
  return out;
}

Result<ResultReport> ResultReportFromJson(const json::value& v) {
  Reader r(v, "");
  ResultReport out;
  ReadReport(r, out);
  r.Num("exit_code", out.exit_code);
  r.Str("error", out.error);
  r.Str("stdout_tail", out.stdout_tail);
  r.Str("stderr_tail", out.stderr_tail);
  r.Str("signature_b64", out.signature_b64);
  if (!r.ok()) return r.status();
  return out;
}

}  // namespace populi::mesh
