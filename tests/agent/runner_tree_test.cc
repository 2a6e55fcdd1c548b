// The exec runner's hold on a task's whole process tree: processes that leave the task's process
// group or session (setsid, double fork) end with the task, with Kill(), and with the agent when
// it is killed outright. Real processes only; each task carries a unique environment variable so
// its processes can be found in /proc whatever their parent became.
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "agent/runners/exec_runner.h"
#include "agent/runners/leftovers.h"
#include "runner_test_util.h"

namespace populi::runners {
namespace {

using testing::Collector;
using testing::OpenPolicy;
using testing::Shell;
using testing::TempDir;

constexpr char kMarkerName[] = "POPULI_TREE_TEST_MARK";

// A value no other run of this test (or another test binary) uses.
std::string UniqueMarker() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Live processes whose environment holds kMarkerName=marker (a zombie's environ reads empty).
std::vector<pid_t> MarkedProcesses(const std::string& marker) {
  const std::string entry = std::string(kMarkerName) + "=" + marker;
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (const dirent* d = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(d->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    const std::string env = ReadFile("/proc/" + std::string(d->d_name) + "/environ");
    for (size_t at = 0; at < env.size();) {
      const size_t nul = env.find('\0', at);
      const size_t len = (nul == std::string::npos ? env.size() : nul) - at;
      if (env.compare(at, len, entry) == 0) {
        out.push_back(static_cast<pid_t>(pid));
        break;
      }
      at += len + 1;
    }
  }
  ::closedir(dir);
  return out;
}

// argv[0] of `pid`.
std::string Program(pid_t pid) {
  const std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.substr(0, cmdline.find('\0'));
}

// The parent's pid from /proc/<pid>/stat ("pid (comm) S ppid ..."); -1 when gone.
pid_t ParentOf(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 4 >= stat.size()) return -1;
  return static_cast<pid_t>(std::stol(stat.substr(paren + 4)));
}

int CountRunning(const std::string& marker, const std::string& program) {
  int n = 0;
  for (pid_t pid : MarkedProcesses(marker)) n += Program(pid) == program ? 1 : 0;
  return n;
}

// Polls until `count` processes running `program` carry the marker; false after 10 s.
bool WaitForRunning(const std::string& marker, const std::string& program, int count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (CountRunning(marker, program) >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Polls until no process carries the marker; the milliseconds that took, or -1 after `limit_ms`.
int64_t MsUntilNoneLeft(const std::string& marker, int64_t limit_ms) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const int64_t elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
    if (MarkedProcesses(marker).empty()) return elapsed;
    if (elapsed > limit_ms) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Leaves nothing behind when a check failed.
void KillMarked(const std::string& marker) {
  for (pid_t pid : MarkedProcesses(marker)) ::kill(pid, SIGKILL);
}

// A task that puts one sleep in its own session, orphans one by a double fork, and keeps one as
// its own child: only the last stays in the leader's process group.
RunSpec EscapingTask(const std::string& root, const std::string& marker) {
  RunSpec spec = Shell("(sleep 300 &); setsid sleep 300 & echo ready; sleep 300", root);
  spec.env[kMarkerName] = marker;
  return spec;
}

// Session ids of the marked processes other than the leader's.
int CountOutsideSession(const std::string& marker, pid_t leader) {
  int n = 0;
  for (pid_t pid : MarkedProcesses(marker)) n += ::getsid(pid) != leader ? 1 : 0;
  return n;
}

TEST(ExecRunTreeTest, AgentKilledBySigkillTakesEveryTaskProcessWithIt) {
  TempDir root;
  const std::string marker = UniqueMarker();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  // The stand-in agent: a process of its own that starts the run and is then SIGKILLed.
  const pid_t agent = ::fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {
    ::close(ready[0]);
    auto run = ExecRun::Start(EscapingTask(root.path(), marker), OpenPolicy());
    const pid_t leader = run.ok() ? (*run)->pid() : -1;
    ssize_t ignored = ::write(ready[1], &leader, sizeof(leader));
    (void)ignored;
    for (;;) ::pause();
  }
  ::close(ready[1]);
  pid_t leader = -1;
  ASSERT_EQ(::read(ready[0], &leader, sizeof(leader)), static_cast<ssize_t>(sizeof(leader)));
  ::close(ready[0]);
  ASSERT_GT(leader, 0);
  const bool started = WaitForRunning(marker, "sleep", 3);
  EXPECT_TRUE(started) << "the task's three sleeps never ran";
  // The check only means something if some of them escaped the leader's session.
  EXPECT_GE(CountOutsideSession(marker, leader), 1);

  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  ASSERT_EQ(::waitpid(agent, nullptr, 0), agent);
  const int64_t ms = MsUntilNoneLeft(marker, 5'000);
  EXPECT_GE(ms, 0) << MarkedProcesses(marker).size() << " task process(es) outlived the agent";
  EXPECT_LT(ms, 1'000) << "the task's processes took " << ms << " ms to go";
  KillMarked(marker);
}

TEST(ExecRunTreeTest, KillEndsProcessesThatLeftTheGroupBeforeWaitReturns) {
  TempDir root;
  const std::string marker = UniqueMarker();
  Collector collector;
  auto run = ExecRun::Start(EscapingTask(root.path(), marker), OpenPolicy(), collector.Fn());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_EQ(collector.WaitForLines(1).size(), 1u);
  ASSERT_TRUE(WaitForRunning(marker, "sleep", 3));
  (*run)->Kill("cancelled");
  RunResult r = (*run)->Wait();
  EXPECT_TRUE(r.killed);
  EXPECT_EQ(r.term_signal, SIGTERM);
  // Wait() returns only once every process of the task is gone: no polling needed.
  EXPECT_TRUE(MarkedProcesses(marker).empty());
  KillMarked(marker);
}

TEST(ExecRunTreeTest, LeaderExitTakesSessionLeaversAndDaemonsWithIt) {
  TempDir root;
  const std::string marker = UniqueMarker();
  // The pause lets setsid take effect, so one sleep really is outside the leader's group.
  RunSpec spec = Shell("(sleep 300 &); setsid sleep 300 & sleep 0.3; exit 4", root.path());
  spec.env[kMarkerName] = marker;
  RunResult r = testing::RunToEnd(spec);
  EXPECT_EQ(r.exit_code, 4) << r.stderr_tail;
  EXPECT_TRUE(MarkedProcesses(marker).empty());
  KillMarked(marker);
}

TEST(ExecRunTreeTest, TermReachesProcessesOutsideTheGroup) {
  TempDir root;
  const std::string marker = UniqueMarker();
  Collector collector;
  // A daemon in its own session that cleans up on SIGTERM; the leader ignores TERM and waits.
  RunSpec spec = Shell(
      "setsid sh -c 'trap \"echo daemon-term; exit 0\" TERM; sleep 300 & wait' &"
      "trap '' TERM; echo ready; sleep 300",
      root.path());
  spec.env[kMarkerName] = marker;
  spec.kill_grace_ms = 500;
  auto run = ExecRun::Start(spec, OpenPolicy(), collector.Fn());
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(collector.WaitForLines(1).size(), 1u);
  ASSERT_TRUE(WaitForRunning(marker, "sleep", 2));
  (*run)->Kill("cancelled");
  RunResult r = (*run)->Wait();
  EXPECT_EQ(r.term_signal, SIGKILL);  // the leader ignored TERM
  EXPECT_EQ(r.stdout_tail, "ready\ndaemon-term\n");
  EXPECT_TRUE(MarkedProcesses(marker).empty());
  KillMarked(marker);
}

TEST(ExecRunTreeTest, ASupervisorKilledOutrightEndsTheRun) {
  TempDir root;
  const std::string marker = UniqueMarker();
  RunSpec spec = Shell("exec sleep 300", root.path());
  spec.env[kMarkerName] = marker;
  auto run = ExecRun::Start(spec, OpenPolicy());
  ASSERT_TRUE(run.ok());
  const pid_t leader = (*run)->pid();
  // The task's parent is its supervisor, a child of this process.
  const pid_t supervisor = ParentOf(leader);
  ASSERT_GT(supervisor, 0);
  ASSERT_NE(supervisor, ::getpid());
  ASSERT_EQ(ParentOf(supervisor), ::getpid());
  ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
  RunResult r = (*run)->Wait();
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_FALSE(r.succeeded());
  // The leader goes with it (PR_SET_PDEATHSIG). Its own children would not: without the
  // supervisor nothing holds them (docs/exec-runner.md).
  EXPECT_TRUE(testing::ProcessEnds(leader));
  KillMarked(marker);
}

// `killall -9 vox` takes the supervisors with the agent: the task's leader dies with its
// supervisor, its other processes live on until the next life of the agent sweeps them.
TEST(ExecRunTreeTest, ARestartedAgentEndsWhatAHardKillOfEverythingLeft) {
  TempDir root;
  const std::string records = root.Sub("runs");
  const std::string marker = UniqueMarker();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t agent = ::fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {
    ::close(ready[0]);
    RunSpec spec = EscapingTask(root.path(), marker);
    spec.task_id = "t-left";
    spec.attempt = 3;
    spec.run_records_dir = records;
    auto run = ExecRun::Start(spec, OpenPolicy());
    const pid_t leader = run.ok() ? (*run)->pid() : -1;
    ssize_t ignored = ::write(ready[1], &leader, sizeof(leader));
    (void)ignored;
    for (;;) ::pause();
  }
  ::close(ready[1]);
  pid_t leader = -1;
  ASSERT_EQ(::read(ready[0], &leader, sizeof(leader)), static_cast<ssize_t>(sizeof(leader)));
  ::close(ready[0]);
  ASSERT_GT(leader, 0);
  ASSERT_TRUE(WaitForRunning(marker, "sleep", 3));
  const pid_t supervisor = ParentOf(leader);
  ASSERT_GT(supervisor, 0);
  ASSERT_EQ(ParentOf(supervisor), agent);

  ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  ASSERT_EQ(::waitpid(agent, nullptr, 0), agent);
  // Without the sweep these stay: the check below is not won by waiting.
  EXPECT_TRUE(testing::ProcessEnds(leader));
  EXPECT_GE(CountRunning(marker, "sleep"), 2);

  const LeftoverSweep sweep = KillLeftovers(records);
  EXPECT_EQ(sweep.records, 1);
  EXPECT_EQ(sweep.live_records, 0);
  EXPECT_GE(sweep.processes, 2);
  EXPECT_GE(MsUntilNoneLeft(marker, 5'000), 0);
  EXPECT_TRUE(std::filesystem::is_empty(records));
  KillMarked(marker);
}

TEST(ExecRunTreeTest, TheRecordsOfALiveAgentAreLeftAlone) {
  TempDir root;
  const std::string records = root.Sub("runs");
  const std::string marker = UniqueMarker();
  RunSpec spec = Shell("sleep 300", root.path());
  spec.env[kMarkerName] = marker;
  spec.run_records_dir = records;
  auto run = ExecRun::Start(spec, OpenPolicy());
  ASSERT_TRUE(run.ok());
  EXPECT_FALSE(std::filesystem::is_empty(records));  // on record once Start() returns

  const LeftoverSweep sweep = KillLeftovers(records);
  EXPECT_EQ(sweep.live_records, 1);
  EXPECT_EQ(sweep.records, 0);
  EXPECT_EQ(sweep.processes, 0);
  EXPECT_EQ(::kill((*run)->pid(), 0), 0);  // still running

  (*run)->Kill("test done");
  (*run)->Wait();
  EXPECT_TRUE(std::filesystem::is_empty(records));  // the record goes with the run
  KillMarked(marker);
}

// The start time of a process read while it exits is its start time or 0, never an exception: a
// /proc file opened just before its process is reaped fails its read with ESRCH. Many short-lived
// children, each read from several threads until it is gone.
TEST(ExecRunTreeTest, ReadingTheStartOfAnExitingProcessNeverThrows) {
  const uint64_t own_start = ProcessStartTime(::getpid());
  ASSERT_NE(own_start, 0u);
  int seen_alive = 0;
  for (int round = 0; round < 200; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) ::_exit(0);
    std::atomic<bool> reaped{false};
    std::atomic<int> thrown{0};
    std::atomic<uint64_t> start{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
      readers.emplace_back([&] {
        while (!reaped) {
          try {
            if (const uint64_t s = ProcessStartTime(child); s != 0) start = s;
          } catch (...) {
            ++thrown;
          }
        }
      });
    }
    ::waitpid(child, nullptr, 0);
    reaped = true;
    for (auto& r : readers) r.join();
    ASSERT_EQ(thrown.load(), 0) << "round " << round;
    if (start != 0) {
      ++seen_alive;
      EXPECT_GE(start.load(), own_start);  // a child starts after its parent
    }
  }
  EXPECT_GT(seen_alive, 0);  // the reads did overlap the children's lives
  EXPECT_EQ(ProcessStartTime(::getpid()), own_start);
}

}  // namespace
}  // namespace populi::runners
