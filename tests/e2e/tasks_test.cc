// Remote execution on a real mesh: a control plane and three agents as child processes (one
// 80 GB GPU node, one 8 GB GPU node, one CPU-only node, from probe fixtures), tasks submitted over
// HTTP, agents killed and paused with signals.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "e2e/mesh_fixture.h"

namespace populi::e2e {
namespace {

namespace json = boost::json;

// Live processes whose environment holds every entry of `entries` (a zombie's reads empty).
std::vector<pid_t> ProcessesWithEnv(const std::vector<std::string>& entries) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(it->path() / "environ", std::ios::binary);
    std::set<std::string> env;
    for (std::string entry; std::getline(in, entry, '\0');) env.insert(entry);
    if (std::all_of(entries.begin(), entries.end(), [&](const auto& e) { return env.count(e); })) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return out;
}

class TasksTest : public MeshFixture {
 protected:
  void SetUp() override {
    MeshFixture::SetUp();
    extra_env_["VOX_MESH_POLICY_EXEC"] = "permissive";
    extra_env_["VOX_MESH_CONTROL_EXEC_LEASE_TTL_SECS"] = "3";
  }

  // gpu80: one 80 GB GPU; gpu8: one 8 GB GPU; cpu: none.
  void StartMesh() {
    StartControl();
    gpu80_ = StartAgent(0, 1, 80);
    gpu8_ = StartAgent(1, 1, 8);
    cpu_ = StartAgent(2, 0);
    ASSERT_TRUE(WaitFor(
        [&] {
          auto states = NodeStates();
          return states[gpu80_] == "alive" && states[gpu8_] == "alive" && states[cpu_] == "alive";
        },
        30'000));
  }

  json::object Submit(json::object spec, int* status = nullptr) {
    HttpReply r = HttpCall(port_, "POST", "/v1/populi/tasks", json::serialize(spec),
                           {{"content-type", "application/json"}});
    if (status != nullptr) *status = r.status;
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    return v.is_object() ? v.as_object() : json::object{};
  }
  static json::object Shell(const std::string& script) {
    return json::object{{"command", "sh"}, {"args", json::array{"-c", script}}};
  }
  json::object Task(const std::string& id) const {
    auto v = GetJson("/v1/populi/tasks/" + id);
    return v.is_object() ? v.as_object() : json::object{};
  }
  std::string State(const std::string& id) const {
    auto t = Task(id);
    return t.contains("state") ? std::string(t.at("state").as_string()) : "";
  }
  bool WaitState(const std::string& id, const std::string& state, int timeout_ms = 60'000) {
    return WaitFor([&] { return State(id) == state; }, timeout_ms);
  }
  std::string Logs(const std::string& id) const {
    auto v = GetJson("/v1/populi/tasks/" + id + "/logs");
    std::string out;
    if (!v.is_object()) return out;
    for (const auto& c : v.as_object().at("logs").as_array())
      out += std::string(c.at("data").as_string());
    return out;
  }
  static const json::object& Attempt(const json::object& task, size_t i) {
    return task.at("attempts").as_array().at(i).as_object();
  }
  size_t AgentIndexOf(const std::string& node) const {
    return node == gpu80_ ? 0 : node == gpu8_ ? 1 : 2;
  }

  std::string gpu80_, gpu8_, cpu_;
};

TEST_F(TasksTest, TwelveGigabyteTaskLandsOnlyOnThe80GNodeWithItsGpu) {
  StartMesh();
  json::object spec = Shell("echo gpus=$CUDA_VISIBLE_DEVICES");
  spec["resources"] = json::object{{"gpus", 1}, {"gpu_memory_bytes", int64_t{12} << 30}};
  int status = 0;
  auto task = Submit(spec, &status);
  EXPECT_EQ(status, 201);
  const std::string id(task.at("id").as_string());
  ASSERT_TRUE(WaitState(id, "succeeded")) << json::serialize(Task(id));
  auto done = Task(id);
  ASSERT_EQ(done.at("attempts").as_array().size(), 1u);
  EXPECT_EQ(Attempt(done, 0).at("node_id").as_string(), gpu80_);
  EXPECT_EQ(Attempt(done, 0).at("dispatch").as_string(), "remote");
  EXPECT_EQ(done.at("exit_code").as_int64(), 0);
  EXPECT_NE(Logs(id).find("gpus=GPU-agent0-0"), std::string::npos) << Logs(id);
  const std::string summary(Attempt(done, 0).at("placement_summary").as_string());
  EXPECT_NE(summary.find("insufficient VRAM"), std::string::npos) << summary;
  // The worker acknowledged the assignment (with its next poll's claim): nothing is left in its
  // task inbox to be delivered again.
  const std::string inbox_body =
      json::serialize(json::object{{"receiver", "tasks:" + gpu80_}});  // docs/tasks.md
  EXPECT_TRUE(WaitFor(
      [&] {
        HttpReply r = HttpCall(port_, "POST", "/v1/populi/a2a/inbox", inbox_body,
                               {{"content-type", "application/json"}});
        return r.status == 200 && r.body.find("\"messages\":[]") != std::string::npos;
      },
      10'000));
}

TEST_F(TasksTest, ImpossibleTaskStaysPendingWithReasonsAndCpuTasksSpread) {
  StartMesh();
  json::object big = Shell("true");
  big["resources"] = json::object{{"gpus", 1}, {"gpu_memory_bytes", int64_t{200} << 30}};
  const std::string big_id(Submit(big).at("id").as_string());
  // Three CPU tasks that each hold their node for a while spread over the three nodes.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    json::object cpu = Shell("sleep 2");
    cpu["resources"] = json::object{{"cpus", 4}};
    ids.emplace_back(Submit(cpu).at("id").as_string());
  }
  std::set<std::string> nodes;
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitState(id, "succeeded")) << json::serialize(Task(id));
    nodes.insert(std::string(Attempt(Task(id), 0).at("node_id").as_string()));
  }
  EXPECT_EQ(nodes.size(), 3u);
  auto big_task = Task(big_id);
  EXPECT_EQ(big_task.at("state").as_string(), "pending");
  EXPECT_NE(std::string(big_task.at("pending_reason").as_string()).find("insufficient VRAM"),
            std::string::npos)
      << json::serialize(big_task);
  auto explain = GetJson("/v1/populi/tasks/" + big_id + "/explain");
  EXPECT_EQ(explain.at("pending_reason"), big_task.at("pending_reason"));
}

TEST_F(TasksTest, DuplicateSubmitReturnsTheSameTaskAndLease) {
  StartMesh();
  json::object spec = Shell("sleep 1");
  spec["client_key"] = "build-42";
  int first_status = 0, second_status = 0;
  auto first = Submit(spec, &first_status);
  auto second = Submit(spec, &second_status);
  EXPECT_EQ(first_status, 201);
  EXPECT_EQ(second_status, 200);
  EXPECT_EQ(first.at("id"), second.at("id"));
  ASSERT_FALSE(second.at("attempts").as_array().empty());
  EXPECT_EQ(Attempt(first, 0).at("lease_id"), Attempt(second, 0).at("lease_id"));
  auto all = GetJson("/v1/populi/tasks");
  EXPECT_EQ(all.at("tasks").as_array().size(), 1u);
}

TEST_F(TasksTest, KilledWorkerTaskCompletesElsewhereWithExactlyOneSuccess) {
  StartMesh();
  // Attempt 1 hangs; a later attempt finishes at once.
  json::object spec =
      Shell("if [ \"$POPULI_ATTEMPT\" = 1 ]; then sleep 60; fi; echo attempt=$POPULI_ATTEMPT");
  const std::string mark = "POPULI_E2E_MARK=" + std::to_string(::getpid()) + "-killed-worker";
  spec["env"] = json::object{{"POPULI_E2E_MARK", mark.substr(mark.find('=') + 1)}};
  const std::string id(Submit(spec).at("id").as_string());
  ASSERT_TRUE(WaitState(id, "running"));
  // The first attempt's shell and its sleep, whoever their parent is.
  auto first_copy = [&] { return ProcessesWithEnv({mark, "POPULI_ATTEMPT=1"}); };
  ASSERT_TRUE(WaitFor([&] { return first_copy().size() >= 2; }, 30'000));
  const std::string first_node(Attempt(Task(id), 0).at("node_id").as_string());
  agent(AgentIndexOf(first_node)).Kill(SIGKILL);
  // Nothing of the first copy outlives its agent: the task runs elsewhere, and only there.
  const auto killed_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor([&] { return first_copy().empty(); }, 5'000))
      << first_copy().size() << " process(es) of the first attempt outlived its agent";
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, std::chrono::seconds(1));
  for (pid_t pid : first_copy()) ::kill(pid, SIGKILL);
  ASSERT_TRUE(WaitState(id, "succeeded")) << json::serialize(Task(id));
  auto done = Task(id);
  const auto& attempts = done.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(Attempt(done, 0).at("state").as_string(), "lost");
  EXPECT_EQ(Attempt(done, 1).at("state").as_string(), "succeeded");
  EXPECT_EQ(Attempt(done, 1).at("dispatch").as_string(), "fallback");
  EXPECT_NE(Attempt(done, 1).at("node_id").as_string(), first_node);
  EXPECT_GT(Attempt(done, 1).at("fencing_token").as_int64(),
            Attempt(done, 0).at("fencing_token").as_int64());
  EXPECT_NE(Logs(id).find("attempt=2"), std::string::npos);
}

TEST_F(TasksTest, PausedHolderIsFencedOffAndTheSecondRunsResultStands) {
  StartMesh();
  json::object spec =
      Shell("if [ \"$POPULI_ATTEMPT\" = 1 ]; then sleep 6; echo first; exit 7; fi; echo second");
  const std::string id(Submit(spec).at("id").as_string());
  ASSERT_TRUE(WaitState(id, "running"));
  const std::string first_node(Attempt(Task(id), 0).at("node_id").as_string());
  VoxProcess& zombie = agent(AgentIndexOf(first_node));
  zombie.Signal(SIGSTOP);
  ASSERT_TRUE(WaitState(id, "succeeded")) << json::serialize(Task(id));
  zombie.Signal(SIGCONT);
  // The zombie wakes up, finds its lease gone and stops its copy; its late report is refused.
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string err = zombie.Stderr();
        return err.find("lease lost") != std::string::npos ||
               err.find("result not accepted") != std::string::npos ||
               err.find("start refused") != std::string::npos;
      },
      30'000))
      << zombie.Stderr();
  std::this_thread::sleep_for(std::chrono::milliseconds(1'000));
  auto done = Task(id);
  EXPECT_EQ(done.at("state").as_string(), "succeeded");
  EXPECT_EQ(done.at("exit_code").as_int64(), 0);
  EXPECT_EQ(Attempt(done, 0).at("state").as_string(), "lost");
  EXPECT_EQ(Logs(id).find("first"), std::string::npos) << Logs(id);
  int successes = 0;
  for (const auto& e : Events())
    if (e.at("kind").as_string() == "task.succeeded" && e.at("subject").as_string() == id)
      ++successes;
  EXPECT_EQ(successes, 1);
}

TEST_F(TasksTest, CancelAndAdminRevokeMidRun) {
  StartMesh();
  // Cancel: the lease is revoked, the agent kills the process, the task ends cancelled.
  const std::string cancel_id(Submit(Shell("sleep 60")).at("id").as_string());
  ASSERT_TRUE(WaitState(cancel_id, "running"));
  HttpReply r = HttpCall(port_, "POST", "/v1/populi/tasks/" + cancel_id + "/cancel", "{}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(State(cancel_id), "cancelled");
  r = HttpCall(port_, "POST", "/v1/populi/tasks/" + cancel_id + "/cancel", "{}");
  EXPECT_EQ(r.status, 409) << r.body;

  // Revoke: the attempt is lost and the task runs again elsewhere or on the same node.
  json::object spec = Shell("if [ \"$POPULI_ATTEMPT\" = 1 ]; then sleep 60; fi; echo ok");
  const std::string id(Submit(spec).at("id").as_string());
  ASSERT_TRUE(WaitState(id, "running"));
  const std::string lease(Attempt(Task(id), 0).at("lease_id").as_string());
  r = HttpCall(port_, "POST", "/v1/populi/admin/exec-lease/revoke",
               json::serialize(json::object{{"lease_id", lease}}));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitState(id, "succeeded")) << json::serialize(Task(id));
  auto done = Task(id);
  EXPECT_EQ(Attempt(done, 0).at("state").as_string(), "lost");
  EXPECT_EQ(Attempt(done, 0).at("error").as_string(), "lease_revoked");
}

TEST_F(TasksTest, ControlPlaneRestartedMidTaskLosesNothing) {
  StartMesh();
  const std::string id(Submit(Shell("echo before; sleep 2; echo after")).at("id").as_string());
  ASSERT_TRUE(WaitState(id, "running"));
  control_.Kill(SIGKILL);
  StartControl();  // same data directory and port
  ASSERT_TRUE(WaitState(id, "succeeded")) << json::serialize(Task(id));
  const std::string logs = Logs(id);
  EXPECT_NE(logs.find("before"), std::string::npos) << logs;
  EXPECT_NE(logs.find("after"), std::string::npos) << logs;
  EXPECT_EQ(Task(id).at("exit_code").as_int64(), 0);
}

}  // namespace
}  // namespace populi::e2e
