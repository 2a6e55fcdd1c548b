// Remote execution on a real mesh: a control plane and three agents as child processes (one
// 80 GB GPU node, one 8 GB GPU node, one CPU-only node, from probe fixtures), tasks submitted
// through client::ControlPlaneApi, agents killed and paused with signals.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "e2e/mesh_fixture.h"
#include "mesh/json.h"
#include "mesh/task.h"
#include "mesh/task_json.h"

namespace populi::e2e {
namespace {

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

  // Submits `spec`; `created` says whether this call made the task (else its client key did).
  mesh::Task Submit(const mesh::TaskSpec& spec, bool* created = nullptr) {
    auto submitted = Api().Submit(spec);
    EXPECT_TRUE(submitted.ok()) << submitted.status().ToString();
    if (!submitted.ok()) return {};
    if (created != nullptr) *created = submitted->created;
    return submitted->task;
  }
  static mesh::TaskSpec Shell(const std::string& script) {
    mesh::TaskSpec spec;
    spec.command = "sh";
    spec.args = {"-c", script};
    return spec;
  }
  // The task as the control plane has it; an empty Task when it cannot be read.
  mesh::Task Task(const std::string& id) const {
    auto task = Api().GetTask(id);
    return task.ok() ? *task : mesh::Task{};
  }
  static std::string Text(const mesh::Task& task) { return mesh::Serialize(mesh::ToJson(task)); }
  std::string State(const std::string& id) const {
    mesh::Task t = Task(id);
    return t.id.empty() ? "" : std::string(mesh::ToString(t.state));
  }
  bool WaitState(const std::string& id, const std::string& state, int timeout_ms = 60'000) {
    return WaitFor([&] { return State(id) == state; }, timeout_ms);
  }
  std::string Logs(const std::string& id) const {
    auto page = Api().Logs(id, 0);
    std::string out;
    if (!page.ok()) return out;
    for (const mesh::LogRecord& r : page->logs) out += r.data;
    return out;
  }
  size_t AgentIndexOf(const std::string& node) const {
    return node == gpu80_ ? 0 : node == gpu8_ ? 1 : 2;
  }

  std::string gpu80_, gpu8_, cpu_;
};

TEST_F(TasksTest, TwelveGigabyteTaskLandsOnlyOnThe80GNodeWithItsGpu) {
  StartMesh();
  mesh::TaskSpec spec = Shell("echo gpus=$CUDA_VISIBLE_DEVICES");
  spec.resources.gpus = 1;
  spec.resources.gpu_memory_bytes = uint64_t{12} << 30;
  bool created = false;
  const std::string id = Submit(spec, &created).id;
  EXPECT_TRUE(created);
  ASSERT_TRUE(WaitState(id, "succeeded")) << Text(Task(id));
  mesh::Task done = Task(id);
  ASSERT_EQ(done.attempts.size(), 1u);
  EXPECT_EQ(done.attempts[0].node_id, gpu80_);
  EXPECT_EQ(done.attempts[0].dispatch, mesh::DispatchKind::kRemote);
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_NE(Logs(id).find("gpus=GPU-agent0-0"), std::string::npos) << Logs(id);
  const std::string& summary = done.attempts[0].placement_summary;
  EXPECT_NE(summary.find("insufficient VRAM"), std::string::npos) << summary;
  // The worker acknowledged the assignment (with its next poll's claim): nothing is left in its
  // task inbox to be delivered again.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto page = Api().Inbox({.receiver = mesh::TaskInboxFor(gpu80_)});
        return page.ok() && page->messages.empty();
      },
      10'000));
}

TEST_F(TasksTest, ImpossibleTaskStaysPendingWithReasonsAndCpuTasksSpread) {
  StartMesh();
  mesh::TaskSpec big = Shell("true");
  big.resources.gpus = 1;
  big.resources.gpu_memory_bytes = uint64_t{200} << 30;
  const std::string big_id = Submit(big).id;
  // Three CPU tasks that each hold their node for a while spread over the three nodes.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    mesh::TaskSpec cpu = Shell("sleep 2");
    cpu.resources.cpus = 4;
    ids.push_back(Submit(cpu).id);
  }
  std::set<std::string> nodes;
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitState(id, "succeeded")) << Text(Task(id));
    nodes.insert(Task(id).attempts.at(0).node_id);
  }
  EXPECT_EQ(nodes.size(), 3u);
  mesh::Task big_task = Task(big_id);
  EXPECT_EQ(big_task.state, mesh::TaskState::kPending);
  EXPECT_NE(big_task.pending_reason.find("insufficient VRAM"), std::string::npos) << Text(big_task);
  auto explain = Api().Explain(big_id);
  ASSERT_TRUE(explain.ok()) << explain.status().ToString();
  EXPECT_EQ(explain->pending_reason, big_task.pending_reason);
}

TEST_F(TasksTest, DuplicateSubmitReturnsTheSameTaskAndLease) {
  StartMesh();
  mesh::TaskSpec spec = Shell("sleep 1");
  spec.client_key = "build-42";
  bool first_created = false, second_created = true;
  mesh::Task first = Submit(spec, &first_created);
  mesh::Task second = Submit(spec, &second_created);
  EXPECT_TRUE(first_created);
  EXPECT_FALSE(second_created);
  EXPECT_EQ(first.id, second.id);
  ASSERT_FALSE(first.attempts.empty());
  ASSERT_FALSE(second.attempts.empty());
  EXPECT_EQ(first.attempts[0].lease_id, second.attempts[0].lease_id);
  auto all = Api().ListTasks();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->tasks.size(), 1u);
}

TEST_F(TasksTest, KilledWorkerTaskCompletesElsewhereWithExactlyOneSuccess) {
  StartMesh();
  // Attempt 1 hangs; a later attempt finishes at once.
  mesh::TaskSpec spec =
      Shell("if [ \"$POPULI_ATTEMPT\" = 1 ]; then sleep 60; fi; echo attempt=$POPULI_ATTEMPT");
  const std::string mark = "POPULI_E2E_MARK=" + std::to_string(::getpid()) + "-killed-worker";
  spec.env = {{"POPULI_E2E_MARK", mark.substr(mark.find('=') + 1)}};
  const std::string id = Submit(spec).id;
  ASSERT_TRUE(WaitState(id, "running"));
  // The first attempt's shell and its sleep, whoever their parent is.
  auto first_copy = [&] { return ProcessesWithEnv({mark, "POPULI_ATTEMPT=1"}); };
  ASSERT_TRUE(WaitFor([&] { return first_copy().size() >= 2; }, 30'000));
  const std::string first_node = Task(id).attempts.at(0).node_id;
  agent(AgentIndexOf(first_node)).Kill(SIGKILL);
  // Nothing of the first copy outlives its agent: the task runs elsewhere, and only there. (How
  // fast they go is a figure for bench/, not a pass/fail line here.)
  EXPECT_TRUE(WaitFor([&] { return first_copy().empty(); }, 5'000))
      << first_copy().size() << " process(es) of the first attempt outlived its agent";
  for (pid_t pid : first_copy()) ::kill(pid, SIGKILL);
  ASSERT_TRUE(WaitState(id, "succeeded")) << Text(Task(id));
  mesh::Task done = Task(id);
  ASSERT_EQ(done.attempts.size(), 2u);
  EXPECT_EQ(done.attempts[0].state, mesh::AttemptState::kLost);
  EXPECT_EQ(done.attempts[1].state, mesh::AttemptState::kSucceeded);
  EXPECT_EQ(done.attempts[1].dispatch, mesh::DispatchKind::kFallback);
  EXPECT_NE(done.attempts[1].node_id, first_node);
  EXPECT_GT(done.attempts[1].fencing_token, done.attempts[0].fencing_token);
  EXPECT_NE(Logs(id).find("attempt=2"), std::string::npos);
}

TEST_F(TasksTest, PausedHolderIsFencedOffAndTheSecondRunsResultStands) {
  StartMesh();
  mesh::TaskSpec spec =
      Shell("if [ \"$POPULI_ATTEMPT\" = 1 ]; then sleep 6; echo first; exit 7; fi; echo second");
  const std::string id = Submit(spec).id;
  ASSERT_TRUE(WaitState(id, "running"));
  const std::string first_node = Task(id).attempts.at(0).node_id;
  VoxProcess& zombie = agent(AgentIndexOf(first_node));
  zombie.Signal(SIGSTOP);
  ASSERT_TRUE(WaitState(id, "succeeded")) << Text(Task(id));
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
  mesh::Task done = Task(id);
  EXPECT_EQ(done.state, mesh::TaskState::kSucceeded);
  EXPECT_EQ(done.exit_code, 0);
  ASSERT_FALSE(done.attempts.empty());
  EXPECT_EQ(done.attempts[0].state, mesh::AttemptState::kLost);
  EXPECT_EQ(Logs(id).find("first"), std::string::npos) << Logs(id);
  int successes = 0;
  for (const mesh::Event& e : Events())
    if (e.kind == "task.succeeded" && e.subject == id) ++successes;
  EXPECT_EQ(successes, 1);
}

TEST_F(TasksTest, CancelAndAdminRevokeMidRun) {
  StartMesh();
  client::ControlPlaneApi api = Api();
  // Cancel: the lease is revoked, the agent kills the process, the task ends cancelled.
  const std::string cancel_id = Submit(Shell("sleep 60")).id;
  ASSERT_TRUE(WaitState(cancel_id, "running"));
  auto cancelled = api.Cancel(cancel_id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_EQ(cancelled->state, mesh::TaskState::kCancelled);
  EXPECT_EQ(State(cancel_id), "cancelled");
  auto again = api.Cancel(cancel_id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition) << again.status().ToString();

  // Revoke: the attempt is lost and the task runs again elsewhere or on the same node.
  const std::string id =
      Submit(Shell("if [ \"$POPULI_ATTEMPT\" = 1 ]; then sleep 60; fi; echo ok")).id;
  ASSERT_TRUE(WaitState(id, "running"));
  auto revoked = api.RevokeLease(Task(id).attempts.at(0).lease_id);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->state, mesh::LeaseState::kRevoked);
  ASSERT_TRUE(WaitState(id, "succeeded")) << Text(Task(id));
  mesh::Task done = Task(id);
  EXPECT_EQ(done.attempts.at(0).state, mesh::AttemptState::kLost);
  EXPECT_EQ(done.attempts.at(0).error, "lease_revoked");
}

TEST_F(TasksTest, ControlPlaneRestartedMidTaskLosesNothing) {
  StartMesh();
  const std::string id = Submit(Shell("echo before; sleep 2; echo after")).id;
  ASSERT_TRUE(WaitState(id, "running"));
  control_.Kill(SIGKILL);
  StartControl();  // same data directory and port
  ASSERT_TRUE(WaitState(id, "succeeded")) << Text(Task(id));
  const std::string logs = Logs(id);
  EXPECT_NE(logs.find("before"), std::string::npos) << logs;
  EXPECT_NE(logs.find("after"), std::string::npos) << logs;
  EXPECT_EQ(Task(id).exit_code, 0);
}

}  // namespace
}  // namespace populi::e2e
