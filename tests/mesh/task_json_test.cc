// The task wire codec (mesh/task_json.h) and ValidateTaskSpec (mesh/validate.h).
#include "mesh/task_json.h"
#include "mesh/parse_json.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

#include "mesh/json.h"
#include "mesh/validate.h"

namespace populi::mesh {
namespace {

namespace json = boost::json;

using testing::Parse;

TaskSpec FullSpec() {
  TaskSpec s;
  s.client_key = "build-42";
  s.kind = "exec";
  s.command = "sh";
  s.args = {"-c", "echo hi"};
  s.env = {{"K", "V"}, {"PATH_EXTRA", "/opt/bin"}};
  s.working_dir = "/tmp/work";
  s.resources = {4, 1ULL << 33, 2, 20ULL << 30};
  s.constraints.required_labels = {{"pool", "gpu"}};
  s.constraints.preferred_labels = {{"region", "attic"}};
  s.constraints.node_allow = {"gpu-1", "gpu-2"};
  s.constraints.node_deny = {"gpu-3"};
  s.privacy_class = PrivacyClass::kTrustedOnly;
  s.priority = 200;
  s.timeout_ms = 60'000;
  s.max_attempts = 5;
  s.secret_names = {"hf_token"};
  s.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  s.submitter_node_id = "laptop";
  return s;
}

Task FullTask() {
  Task t;
  t.id = "t-0001";
  t.spec = FullSpec();
  t.state = TaskState::kRunning;
  t.created_ms = 100;
  t.updated_ms = 200;
  t.ended_ms = 300;
  t.exit_code = 0;
  t.pending_reason = "no node has 2 free GPUs";
  Attempt lost;
  lost.number = 1;
  lost.node_id = "gpu-2";
  lost.lease_id = std::string(32, 'a');
  lost.fencing_token = 3;
  lost.dispatch = DispatchKind::kRemote;
  lost.state = AttemptState::kLost;
  lost.placed_ms = 110;
  lost.started_ms = 120;
  lost.ended_ms = 150;
  lost.exit_code = -1;
  lost.error = "lease_lost";
  lost.gpu_uuids = {"GPU-a", "GPU-b"};
  lost.placement_summary = "3 considered; 1 chosen";
  Attempt running = lost;
  running.number = 2;
  running.node_id = "gpu-1";
  running.fencing_token = 4;
  running.dispatch = DispatchKind::kFallback;
  running.state = AttemptState::kRunning;
  running.ended_ms = 0;
  running.exit_code = 7;
  running.error.clear();
  t.attempts = {lost, running};
  t.schema_version = 1;
  return t;
}

void ExpectSpecsEqual(const TaskSpec& a, const TaskSpec& b) {
  EXPECT_EQ(a.client_key, b.client_key);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.command, b.command);
  EXPECT_EQ(a.args, b.args);
  EXPECT_EQ(a.env, b.env);
  EXPECT_EQ(a.working_dir, b.working_dir);
  EXPECT_EQ(a.resources.cpus, b.resources.cpus);
  EXPECT_EQ(a.resources.memory_bytes, b.resources.memory_bytes);
  EXPECT_EQ(a.resources.gpus, b.resources.gpus);
  EXPECT_EQ(a.resources.gpu_memory_bytes, b.resources.gpu_memory_bytes);
  EXPECT_EQ(a.constraints.required_labels, b.constraints.required_labels);
  EXPECT_EQ(a.constraints.preferred_labels, b.constraints.preferred_labels);
  EXPECT_EQ(a.constraints.node_allow, b.constraints.node_allow);
  EXPECT_EQ(a.constraints.node_deny, b.constraints.node_deny);
  EXPECT_EQ(a.privacy_class, b.privacy_class);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.timeout_ms, b.timeout_ms);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.secret_names, b.secret_names);
  EXPECT_EQ(a.traceparent, b.traceparent);
  EXPECT_EQ(a.submitter_node_id, b.submitter_node_id);
}

void ExpectAttemptsEqual(const Attempt& a, const Attempt& b) {
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.node_id, b.node_id);
  EXPECT_EQ(a.lease_id, b.lease_id);
  EXPECT_EQ(a.fencing_token, b.fencing_token);
  EXPECT_EQ(a.dispatch, b.dispatch);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.placed_ms, b.placed_ms);
  EXPECT_EQ(a.started_ms, b.started_ms);
  EXPECT_EQ(a.ended_ms, b.ended_ms);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.gpu_uuids, b.gpu_uuids);
  EXPECT_EQ(a.placement_summary, b.placement_summary);
}

void ExpectTasksEqual(const Task& a, const Task& b) {
  EXPECT_EQ(a.id, b.id);
  ExpectSpecsEqual(a.spec, b.spec);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.updated_ms, b.updated_ms);
  EXPECT_EQ(a.ended_ms, b.ended_ms);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.pending_reason, b.pending_reason);
  ASSERT_EQ(a.attempts.size(), b.attempts.size());
  for (size_t i = 0; i < a.attempts.size(); ++i) ExpectAttemptsEqual(a.attempts[i], b.attempts[i]);
  EXPECT_EQ(a.schema_version, b.schema_version);
}

// Round trip through text, as the store and the wire do it.
Result<Task> ThroughText(const Task& t) {
  auto parsed = ParseJson(Serialize(ToJson(t)));
  if (!parsed.ok()) return parsed.status();
  return TaskFromJson(*parsed);
}

TEST(TaskJson, TaskRoundTripKeepsEveryField) {
  const Task t = FullTask();
  auto back = ThroughText(t);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectTasksEqual(t, *back);
  // And straight from the encoded object, without text in between.
  auto direct = TaskFromJson(ToJson(t));
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  ExpectTasksEqual(t, *direct);
}

TEST(TaskJson, EveryEnumValueRoundTrips) {
  for (TaskState s : {TaskState::kPending, TaskState::kPlaced, TaskState::kRunning,
                      TaskState::kSucceeded, TaskState::kFailed, TaskState::kCancelled}) {
    Task t = FullTask();
    t.state = s;
    EXPECT_EQ(ThroughText(t)->state, s) << ToString(s);
  }
  for (AttemptState s : {AttemptState::kPlaced, AttemptState::kRunning, AttemptState::kSucceeded,
                         AttemptState::kFailed, AttemptState::kLost, AttemptState::kCancelled}) {
    Task t = FullTask();
    t.attempts[0].state = s;
    EXPECT_EQ(ThroughText(t)->attempts[0].state, s) << ToString(s);
  }
  for (DispatchKind d : {DispatchKind::kLocal, DispatchKind::kRemote, DispatchKind::kFallback}) {
    Task t = FullTask();
    t.attempts[1].dispatch = d;
    EXPECT_EQ(ThroughText(t)->attempts[1].dispatch, d) << ToString(d);
  }
  for (PrivacyClass p : {PrivacyClass::kPublic, PrivacyClass::kPrivate, PrivacyClass::kTrusted,
                         PrivacyClass::kTrustedOnly}) {
    Task t = FullTask();
    t.spec.privacy_class = p;
    EXPECT_EQ(ThroughText(t)->spec.privacy_class, p) << ToString(p);
  }
}

TEST(TaskJson, SpecRoundTripAndWireNames) {
  const TaskSpec s = FullSpec();
  json::object o = ToJson(s);
  // Field names as docs/tasks.md spells them.
  EXPECT_EQ(o["client_key"], "build-42");
  EXPECT_EQ(o["privacy_class"], "trusted_only");
  EXPECT_EQ(o["resources"].as_object()["gpu_memory_bytes"], 20ULL << 30);
  EXPECT_EQ(o["constraints"].as_object()["node_deny"].as_array().size(), 1u);
  EXPECT_EQ(o["env"].as_object()["K"], "V");
  auto back = TaskSpecFromJson(o);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSpecsEqual(s, *back);
}

TEST(TaskJson, MinimalSpecGetsTheDocumentedDefaults) {
  auto s = TaskSpecFromJson(Parse(R"({"command":"true"})"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->command, "true");
  EXPECT_EQ(s->kind, "exec");
  EXPECT_EQ(s->privacy_class, PrivacyClass::kPrivate);
  EXPECT_EQ(s->priority, 128);
  EXPECT_EQ(s->max_attempts, 3);
  EXPECT_EQ(s->timeout_ms, 0);
  EXPECT_EQ(s->resources.gpus, 0u);
  EXPECT_TRUE(s->args.empty());
  // Nulls read as absent.
  auto nulls = TaskSpecFromJson(Parse(R"({"command":"x","resources":null,"args":null})"));
  ASSERT_TRUE(nulls.ok()) << nulls.status().ToString();
  EXPECT_TRUE(nulls->args.empty());
}

TEST(TaskJson, EncodingOmitsEmptiesButKeepsMeaningfulZeros) {
  Task t;
  t.id = "t-1";
  t.spec.command = "true";
  json::object o = ToJson(t);
  EXPECT_FALSE(o.contains("attempts"));
  EXPECT_FALSE(o.contains("pending_reason"));
  EXPECT_FALSE(o.contains("created_ms"));
  EXPECT_EQ(o["exit_code"], -1);
  EXPECT_EQ(o["state"], "pending");
  json::object spec = o["spec"].as_object();
  EXPECT_FALSE(spec.contains("client_key"));
  EXPECT_FALSE(spec.contains("args"));
  EXPECT_EQ(spec["timeout_ms"], 0);
  EXPECT_EQ(spec["resources"].as_object()["gpus"], 0);
  EXPECT_TRUE(spec["constraints"].as_object().empty());
}

TEST(TaskJson, MissingRequiredFields) {
  auto no_command = TaskSpecFromJson(Parse(R"({"args":["a"]})"));
  ASSERT_FALSE(no_command.ok());
  EXPECT_EQ(no_command.status().code(), Code::kInvalidArgument);
  EXPECT_NE(no_command.status().message().find("command"), std::string::npos);
  EXPECT_FALSE(TaskSpecFromJson(Parse("[]")).ok());

  auto no_spec = TaskFromJson(Parse(R"({"id":"t-1"})"));
  ASSERT_FALSE(no_spec.ok());
  EXPECT_NE(no_spec.status().message().find("spec"), std::string::npos);
  auto spec_not_object = TaskFromJson(Parse(R"({"id":"t-1","spec":"sh"})"));
  ASSERT_FALSE(spec_not_object.ok());
  EXPECT_NE(spec_not_object.status().message().find("spec: expected an object"), std::string::npos);
  EXPECT_FALSE(TaskFromJson(Parse(R"({"spec":{"command":"x"}})")).ok());
}

TEST(TaskJson, UnknownEnumStringsNameTheFieldAndHint) {
  auto privacy = TaskSpecFromJson(Parse(R"({"command":"x","privacy_class":"secret"})"));
  ASSERT_FALSE(privacy.ok());
  EXPECT_EQ(privacy.status().code(), Code::kInvalidArgument);
  EXPECT_NE(privacy.status().message().find("privacy_class"), std::string::npos);
  EXPECT_NE(privacy.status().hint().find("trusted_only"), std::string::npos);

  json::object t = ToJson(FullTask());
  t["state"] = "exploded";
  auto state = TaskFromJson(t);
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.status().message().find("state"), std::string::npos);
  EXPECT_NE(state.status().hint().find("cancelled"), std::string::npos);

  t = ToJson(FullTask());
  t["attempts"].as_array()[1].as_object()["dispatch"] = "teleport";
  auto dispatch = TaskFromJson(t);
  ASSERT_FALSE(dispatch.ok());
  EXPECT_NE(dispatch.status().message().find("attempts[1].dispatch"), std::string::npos)
      << dispatch.status().message();
  EXPECT_NE(dispatch.status().hint().find("fallback"), std::string::npos);
}

TEST(TaskJson, WrongTypesAndRangesNameTheNestedPath) {
  auto gpus = TaskFromJson(Parse(R"({"id":"t","spec":{"command":"x","resources":{"gpus":-1}}})"));
  ASSERT_FALSE(gpus.ok());
  EXPECT_NE(gpus.status().message().find("spec.resources.gpus"), std::string::npos)
      << gpus.status().message();
  auto priority = TaskSpecFromJson(Parse(R"({"command":"x","priority":256})"));
  ASSERT_FALSE(priority.ok());
  EXPECT_NE(priority.status().message().find("priority"), std::string::npos);
  auto args = TaskSpecFromJson(Parse(R"({"command":"x","args":["a",1]})"));
  ASSERT_FALSE(args.ok());
  EXPECT_NE(args.status().message().find("args[1]"), std::string::npos);
  auto env = TaskSpecFromJson(Parse(R"({"command":"x","env":{"A":2}})"));
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("env.A"), std::string::npos);
  auto labels = TaskSpecFromJson(
      Parse(R"({"command":"x","constraints":{"required_labels":{"pool":["gpu"]}}})"));
  ASSERT_FALSE(labels.ok());
  EXPECT_NE(labels.status().message().find("constraints.required_labels.pool"), std::string::npos)
      << labels.status().message();
  auto constraints = TaskSpecFromJson(Parse(R"({"command":"x","constraints":[]})"));
  ASSERT_FALSE(constraints.ok());
  EXPECT_NE(constraints.status().message().find("constraints"), std::string::npos);
  auto timeout = TaskSpecFromJson(Parse(R"({"command":"x","timeout_ms":1.5})"));
  ASSERT_FALSE(timeout.ok());
  EXPECT_NE(timeout.status().message().find("timeout_ms"), std::string::npos);
  auto attempt = TaskFromJson(Parse(R"({"id":"t","spec":{"command":"x"},"attempts":[7]})"));
  ASSERT_FALSE(attempt.ok());
  EXPECT_NE(attempt.status().message().find("attempts[0]"), std::string::npos);
}

TEST(TaskJson, UnknownFieldsAreIgnored) {
  auto s = TaskSpecFromJson(Parse(R"({"command":"x","future_field":{"a":1}})"));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
}

TEST(TaskJson, PlacementDecision) {
  PlacementDecision d;
  d.placed = true;
  d.node_id = "gpu-1";
  d.gpu_uuids = {"GPU-a"};
  d.nodes_considered = 3;
  d.rejected = {{"down", 1}, {"insufficient_vram", 1}};
  d.summary = "3 considered: 1 down, 1 insufficient_vram; chose gpu-1";
  json::object o = ToJson(d);
  EXPECT_EQ(o["placed"], true);
  EXPECT_EQ(o["node_id"], "gpu-1");
  EXPECT_EQ(o["gpu_uuids"].as_array().size(), 1u);
  EXPECT_EQ(o["nodes_considered"], 3);
  EXPECT_EQ(o["rejected"].as_object()["insufficient_vram"], 1);
  EXPECT_EQ(std::string(o["summary"].as_string()), d.summary);
  json::object none = ToJson(PlacementDecision{});
  EXPECT_EQ(none["placed"], false);
  EXPECT_EQ(none["nodes_considered"], 0);
  EXPECT_FALSE(none.contains("node_id"));
  EXPECT_FALSE(none.contains("rejected"));
}

// ---- ValidateTaskSpec ----

TaskSpec Minimal() {
  TaskSpec s;
  s.command = "sh";
  return s;
}

// Validates `s`, expecting a refusal whose message names `field` and which has a hint; returns
// its code.
Code Refused(const TaskSpec& s, std::string_view field) {
  Status status = ValidateTaskSpec(s);
  EXPECT_FALSE(status.ok()) << "expected a refusal naming " << field;
  EXPECT_NE(status.message().find(field), std::string::npos) << status.ToString();
  EXPECT_FALSE(status.hint().empty()) << status.ToString();
  return status.code();
}

constexpr Code kBad = Code::kInvalidArgument;
constexpr Code kBig = Code::kTooLarge;

TEST(TaskValidate, FullAndMinimalSpecsPass) {
  EXPECT_TRUE(ValidateTaskSpec(FullSpec()).ok()) << ValidateTaskSpec(FullSpec()).ToString();
  EXPECT_TRUE(ValidateTaskSpec(Minimal()).ok());
}

TEST(TaskValidate, KindOtherThanExecIsNotAvailableYet) {
  TaskSpec s = Minimal();
  s.kind = "inference";
  EXPECT_EQ(Refused(s, "kind 'inference' is not available yet"), kBad);
  EXPECT_NE(ValidateTaskSpec(s).hint().find("exec"), std::string::npos);
  s.kind = "text_infer";
  EXPECT_EQ(Refused(s, "kind 'text_infer' is not available yet"), kBad);
  s.kind = "";
  EXPECT_EQ(Refused(s, "kind"), kBad);
}

TEST(TaskValidate, Command) {
  TaskSpec s = Minimal();
  s.command = "";
  EXPECT_EQ(Refused(s, "command"), kBad);
  s.command = std::string(4096, 'a');
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
  s.command = std::string(4097, 'a');
  EXPECT_EQ(Refused(s, "command"), kBig);
  s.command = "\xC3\x28";
  EXPECT_EQ(Refused(s, "command"), kBad);
  s.command = std::string("a\0b", 3);
  EXPECT_EQ(Refused(s, "command"), kBad);
}

TEST(TaskValidate, ArgsAndEnv) {
  TaskSpec s = Minimal();
  s.args.assign(1024, "x");
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
  s.args.push_back("x");
  EXPECT_EQ(Refused(s, "args"), kBig);
  s = Minimal();
  s.args = {"ok", std::string(64 * 1024 + 1, 'a')};
  EXPECT_EQ(Refused(s, "args[1]"), kBig);
  s.args = {"ok", std::string(64 * 1024, 'a')};
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
  s.args = {"ok", std::string("a\0", 2)};
  EXPECT_EQ(Refused(s, "args[1]"), kBad);

  s = Minimal();
  for (int i = 0; i < 256; ++i) s.env["V" + std::to_string(i)] = "x";
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
  s.env["ONE_MORE"] = "x";
  EXPECT_EQ(Refused(s, "env"), kBig);
  for (const char* bad : {"1ABC", "A-B", "", "A B", "A=B"}) {
    s = Minimal();
    s.env[bad] = "v";
    EXPECT_EQ(Refused(s, "env name"), kBad) << bad;
  }
  s = Minimal();
  s.env = {{"_ok", "v"}, {"Ab9_", "v"}};
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
  s.env = {{"BIG", std::string(64 * 1024 + 1, 'v')}};
  EXPECT_EQ(Refused(s, "env.BIG"), kBig);
}

TEST(TaskValidate, IdsAndNumbers) {
  TaskSpec s = Minimal();
  s.client_key = "has space";
  EXPECT_EQ(Refused(s, "client_key"), kBad);
  s.client_key = std::string(129, 'k');
  EXPECT_EQ(Refused(s, "client_key"), kBad);
  s.client_key = "build-42.a:b_c";
  EXPECT_TRUE(ValidateTaskSpec(s).ok());

  for (int32_t bad : {0, -1, 21}) {
    s = Minimal();
    s.max_attempts = bad;
    EXPECT_EQ(Refused(s, "max_attempts"), kBad) << bad;
  }
  s = Minimal();
  s.max_attempts = 20;
  EXPECT_TRUE(ValidateTaskSpec(s).ok());

  s.timeout_ms = int64_t{7} * 24 * 3600 * 1000;
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
  s.timeout_ms += 1;
  EXPECT_EQ(Refused(s, "timeout_ms"), kBad);
  s.timeout_ms = -1;
  EXPECT_EQ(Refused(s, "timeout_ms"), kBad);
}

TEST(TaskValidate, Resources) {
  TaskSpec s = Minimal();
  s.resources.gpus = 64;
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
  s.resources.gpus = 65;
  EXPECT_EQ(Refused(s, "resources.gpus"), kBad);
  s = Minimal();
  s.resources.gpu_memory_bytes = 1;
  EXPECT_EQ(Refused(s, "gpu_memory_bytes"), kBad);
  EXPECT_NE(ValidateTaskSpec(s).hint().find("set gpus"), std::string::npos);
  s.resources.gpus = 1;
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
}

TEST(TaskValidate, ConstraintsSecretsAndTrace) {
  TaskSpec s = Minimal();
  s.constraints.required_labels = {{"", "v"}};
  EXPECT_EQ(Refused(s, "constraints.required_labels"), kBad);
  s = Minimal();
  s.constraints.preferred_labels = {{"k", std::string(257, 'v')}};
  EXPECT_EQ(Refused(s, "constraints.preferred_labels"), kBad);
  s = Minimal();
  for (int i = 0; i < 65; ++i) s.constraints.required_labels["k" + std::to_string(i)] = "v";
  EXPECT_EQ(Refused(s, "constraints.required_labels"), kBig);
  s = Minimal();
  s.constraints.node_allow = {"gpu-1", "bad id"};
  EXPECT_EQ(Refused(s, "constraints.node_allow[1]"), kBad);
  s = Minimal();
  s.constraints.node_deny = {""};
  EXPECT_EQ(Refused(s, "constraints.node_deny[0]"), kBad);
  s = Minimal();
  s.secret_names.assign(64, "s");
  EXPECT_TRUE(ValidateTaskSpec(s).ok());
  s.secret_names.push_back("s");
  EXPECT_EQ(Refused(s, "secret_names"), kBig);
  s = Minimal();
  s.secret_names = {"ok", "not/ok"};
  EXPECT_EQ(Refused(s, "secret_names[1]"), kBad);
  s = Minimal();
  s.traceparent = "00-00000000000000000000000000000000-b7ad6b7169203331-01";
  EXPECT_EQ(Refused(s, "traceparent"), kBad);
  s = Minimal();
  s.submitter_node_id = "no way";
  EXPECT_EQ(Refused(s, "submitter_node_id"), kBad);
  s = Minimal();
  s.working_dir = std::string("/tmp/\0x", 7);
  EXPECT_EQ(Refused(s, "working_dir"), kBad);
}

}  // namespace
}  // namespace populi::mesh
