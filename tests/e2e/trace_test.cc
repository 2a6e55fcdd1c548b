// One trace across every hop of a task, on a real mesh: a control plane and two agents as child
// processes on loopback. The task is submitted with a known trace context, placed on the GPU
// node (box B), and its process reports the TRACEPARENT it was given. The trace then holds the
// control plane's spans (the submit request, placement, lease grant, delivery, the reports' own
// requests) and B's agent's (task.run, runner.start, task.process), linked by parent ids, and
// `vox populi trace` prints it.
#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "cli/serve_process.h"
#include "e2e/mesh_fixture.h"
#include "mesh/json.h"
#include "obs/span.h"
#include "obs/span_json.h"

namespace populi::e2e {
namespace {

class TraceTest : public MeshFixture {
 protected:
  void SetUp() override {
    MeshFixture::SetUp();
    extra_env_["VOX_MESH_POLICY_EXEC"] = "permissive";
  }

  std::vector<obs::Span> TraceSpans(const std::string& trace_id) const {
    auto spans = Api().Trace(trace_id);
    return spans.ok() ? *spans : std::vector<obs::Span>{};
  }
  static std::string Hex(const obs::SpanId& id) { return obs::ToHex(id.data(), id.size()); }
  static const obs::Span* Named(const std::vector<obs::Span>& spans, const std::string& name) {
    for (const auto& s : spans) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  static std::string Str(const obs::Span& s, const char* key) {
    const obs::AttributeValue* v = s.Find(key);
    return v != nullptr && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : "";
  }
};

TEST_F(TraceTest, ATaskPlacedOnAnotherBoxIsOneTraceFromSubmitToItsOwnProcess) {
  StartControl();
  const std::string box_a = StartAgent(0, 0);      // CPU only
  const std::string box_b = StartAgent(1, 1, 24);  // the one GPU
  ASSERT_TRUE(WaitFor(
      [&] { return NodeStates()[box_a] == "alive" && NodeStates()[box_b] == "alive"; }, 30'000));

  // The submitter's own span: the control plane's submit span must be its child.
  const obs::TraceContext client = obs::NewRootContext();
  mesh::TaskSpec spec;
  spec.command = "sh";
  spec.args = {"-c", "echo \"tp=$TRACEPARENT\""};
  spec.resources.gpus = 1;
  std::string id;
  {
    obs::ScopedContext current(client);
    auto submitted = Api().Submit(spec);
    ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
    id = submitted->task.id;
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        auto t = Api().GetTask(id);
        return t.ok() && t->state == mesh::TaskState::kSucceeded;
      },
      60'000));
  auto task = Api().GetTask(id);
  ASSERT_TRUE(task.ok());
  ASSERT_EQ(task->attempts.size(), 1u);
  EXPECT_EQ(task->attempts[0].node_id, box_b);

  // What the task's own process was given.
  auto logs = Api().Logs(id, 0);
  ASSERT_TRUE(logs.ok());
  std::string out;
  for (const auto& r : logs->logs) out += r.data;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("tp=00-([0-9a-f]{32})-([0-9a-f]{16})-01")))
      << out;
  const std::string trace_id = m[1];
  const std::string process_parent = m[2];
  EXPECT_EQ(trace_id, client.TraceIdHex());

  // The agent sends its spans after the result; wait until they are in.
  std::vector<obs::Span> spans;
  ASSERT_TRUE(WaitFor(
      [&] {
        spans = TraceSpans(trace_id);
        return Named(spans, "task.process") != nullptr && Named(spans, "task.run") != nullptr;
      },
      30'000));

  std::map<std::string, const obs::Span*> by_id;
  for (const auto& s : spans) by_id[Hex(s.span_id)] = &s;
  const obs::Span* submit = Named(spans, "POST /v1/populi/tasks");
  const obs::Span* place = Named(spans, "task.place");
  const obs::Span* grant = Named(spans, "lease.grant");
  const obs::Span* deliver = Named(spans, "a2a.deliver");
  const obs::Span* run = Named(spans, "task.run");
  const obs::Span* start = Named(spans, "runner.start");
  const obs::Span* process = Named(spans, "task.process");
  const obs::Span* report = Named(spans, "POST /v1/populi/tasks/{id}/result");
  for (const obs::Span* s : {submit, place, grant, deliver, run, start, process, report}) {
    ASSERT_NE(s, nullptr) << mesh::Serialize(obs::ToJson(spans.front()));
  }
  // The chain, by parent ids.
  EXPECT_EQ(Hex(submit->parent_span_id), client.SpanIdHex());
  EXPECT_EQ(place->parent_span_id, submit->span_id);
  EXPECT_EQ(grant->parent_span_id, place->span_id);
  EXPECT_EQ(deliver->parent_span_id, place->span_id);
  EXPECT_EQ(run->parent_span_id, deliver->span_id);
  EXPECT_EQ(start->parent_span_id, run->span_id);
  EXPECT_EQ(process->parent_span_id, run->span_id);
  EXPECT_EQ(Hex(process->span_id), process_parent);  // the process's TRACEPARENT is this span
  EXPECT_EQ(report->parent_span_id, run->span_id);   // the agent's reports continue task.run
  // Where each ran, and what it says.
  EXPECT_EQ(submit->service, "vox-control-plane");
  EXPECT_EQ(place->service, "vox-control-plane");
  for (const obs::Span* s : {run, start, process}) {
    EXPECT_EQ(s->service, "vox-agent");
    EXPECT_EQ(s->node_id, box_b);
  }
  EXPECT_EQ(Str(*place, "vox.mesh.task_id"), id);
  EXPECT_EQ(Str(*place, "vox.mesh.node_id"), box_b);
  EXPECT_EQ(Str(*grant, "vox.mesh.lease_id"), task->attempts[0].lease_id);
  EXPECT_EQ(std::get<int64_t>(*grant->Find("vox.mesh.fencing_token")),
            task->attempts[0].fencing_token);
  EXPECT_EQ(Str(*run, "vox.mesh.task_id"), id);
  EXPECT_EQ(std::get<int64_t>(*process->Find("vox.mesh.exit_code")), 0);
  // Every span but the submit (whose parent is the client's, not recorded here) has its parent
  // in the trace, and all share its id.
  for (const auto& s : spans) {
    EXPECT_EQ(s.trace_id, submit->trace_id);
    if (&s == submit || !s.has_parent()) continue;
    EXPECT_EQ(by_id.count(Hex(s.parent_span_id)), 1u) << s.name;
  }

  // `vox populi trace TASK`: JSON off a terminal, the waterfall on one.
  testing::VoxEnv env;
  env.cwd = root_.string();
  env.vars = BaseEnv((root_ / "cli-home").string());
  const std::string scratch = (root_ / "cli-scratch").string();
  std::filesystem::create_directories(scratch);
  testing::VoxRun as_json =
      testing::RunVoxWithin(env, {"populi", "trace", id, "--control-url", url()}, scratch);
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  auto doc = mesh::ParseJson(as_json.out);
  ASSERT_TRUE(doc.ok()) << as_json.out;
  EXPECT_EQ(doc->at("trace_id"), boost::json::value(trace_id));
  EXPECT_GE(doc->at("spans").as_array().size(), 8u);

  testing::VoxRun on_tty = testing::RunVoxOnTerminal(
      env, {"populi", "trace", trace_id, "--control-url", url(), "--no-pager"}, scratch);
  ASSERT_EQ(on_tty.exit_code, 0) << on_tty.err;
  EXPECT_NE(on_tty.out.find("trace " + trace_id), std::string::npos) << on_tty.out;
  EXPECT_NE(on_tty.out.find("task.process"), std::string::npos);
  EXPECT_NE(on_tty.out.find(box_b), std::string::npos);
  EXPECT_NE(on_tty.out.find("control-plane"), std::string::npos);
  // Nested under its parent: task.process is indented deeper than task.run.
  const auto indent = [&](const std::string& name) {
    const size_t at = on_tty.out.find(name);
    size_t spaces = 0;
    for (size_t i = at; i > 0 && on_tty.out[i - 1] == ' '; --i) ++spaces;
    return spaces;
  };
  EXPECT_GT(indent("task.process"), indent("task.run"));

  testing::VoxRun unknown = testing::RunVoxWithin(
      env, {"populi", "trace", std::string(32, 'a'), "--control-url", url()}, scratch);
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("no spans of trace"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace populi::e2e
