// The exec runner against real child processes: exit status, output, environment, scratch and
// working directories, output caps, timeouts, Kill(), spawn errors, rlimits and descriptors.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "agent/runners/exec_runner.h"
#include "agent/runners/launch.h"
#include "runner_test_util.h"

namespace populi::runners {
namespace {

using testing::Collector;
using testing::OpenPolicy;
using testing::ProcessEnds;
using testing::RunToEnd;
using testing::Shell;
using testing::TempDir;

std::map<std::string, std::string> ParseEnv(const std::string& text) {
  std::map<std::string, std::string> env;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

TEST(ExecRunTest, ReportsExitCodes) {
  TempDir root;
  RunResult ok = RunToEnd(Shell("exit 0", root.path()));
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.term_signal, 0);
  EXPECT_TRUE(ok.spawn_error.empty());
  EXPECT_TRUE(ok.succeeded());

  RunResult three = RunToEnd(Shell("exit 3", root.path()));
  EXPECT_EQ(three.exit_code, 3);
  EXPECT_EQ(three.term_signal, 0);
  EXPECT_FALSE(three.succeeded());
}

TEST(ExecRunTest, ReportsTheSignalThatEndedTheProcess) {
  TempDir root;
  RunResult r = RunToEnd(Shell("kill -USR1 $$", root.path()));
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.term_signal, SIGUSR1);
  EXPECT_FALSE(r.succeeded());
}

TEST(ExecRunTest, CapturesAndStreamsStdoutAndStderr) {
  TempDir root;
  Collector collector;
  RunResult r = RunToEnd(Shell("echo to-out; echo to-err >&2; echo more-out", root.path()),
                         OpenPolicy(), &collector);
  EXPECT_EQ(r.stdout_tail, "to-out\nmore-out\n");
  EXPECT_EQ(r.stderr_tail, "to-err\n");
  EXPECT_EQ(collector.out(), "to-out\nmore-out\n");
  EXPECT_EQ(collector.err(), "to-err\n");
  EXPECT_EQ(r.stdout_truncated_bytes, 0u);
  EXPECT_EQ(r.stderr_truncated_bytes, 0u);
}

TEST(ExecRunTest, StreamsOutputWhileTheProcessRuns) {
  TempDir root;
  Collector collector;
  auto run = ExecRun::Start(Shell("echo first; exec sleep 100", root.path()), OpenPolicy(),
                            collector.Fn());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  // The line arrives through the callback while the process is still sleeping.
  auto lines = collector.WaitForLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "first");
  (*run)->Kill("test done");
  RunResult r = (*run)->Wait();
  EXPECT_TRUE(r.killed);
  EXPECT_EQ(r.stdout_tail, "first\n");
}

TEST(ExecRunTest, StdinIsDevNull) {
  TempDir root;
  RunSpec spec;
  spec.command = "cat";  // would block forever on an inherited terminal or pipe
  spec.scratch_root = root.path();
  RunResult r = RunToEnd(spec);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_tail, "");
}

TEST(ExecRunTest, EnvironmentIsExactlyTheDocumentedOne) {
  ASSERT_EQ(::setenv("POPULI_RUNNER_TEST_PARENT_ONLY", "leaked", 1), 0);
  TempDir root;
  RunSpec spec;
  spec.task_id = "task-42";
  spec.attempt = 2;
  spec.command = "env";
  spec.env = {{"FOO", "bar baz"}, {"LANG", "en_US.UTF-8"}, {"POPULI_TASK_ID", "spoofed"}};
  spec.scratch_root = root.path();
  RunResult r = RunToEnd(spec);
  ::unsetenv("POPULI_RUNNER_TEST_PARENT_ONLY");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;

  const std::map<std::string, std::string> expected = {
      {"PATH", internal::AgentPath()},
      {"HOME", r.scratch_dir},
      {"LANG", "en_US.UTF-8"},  // the spec's env overrides the base
      {"FOO", "bar baz"},
      {"CUDA_VISIBLE_DEVICES", ""},   // no GPU asked for: none visible
      {"POPULI_TASK_ID", "task-42"},  // the runner's own variables win
      {"POPULI_ATTEMPT", "2"},
  };
  EXPECT_EQ(ParseEnv(r.stdout_tail), expected);
}

TEST(ExecRunTest, AssignedGpusAreTheOnlyVisibleOnes) {
  TempDir root;
  RunSpec spec;
  spec.command = "env";
  spec.env = {{"CUDA_VISIBLE_DEVICES", "0,1,2,3"}};  // a task cannot widen its own assignment
  spec.gpus_requested = 2;
  spec.gpu_uuids = {"GPU-aaaa", "GPU-bbbb"};
  spec.scratch_root = root.path();
  RunResult r = RunToEnd(spec);
  auto env = ParseEnv(r.stdout_tail);
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "GPU-aaaa,GPU-bbbb");
  EXPECT_EQ(env["NVIDIA_VISIBLE_DEVICES"], "GPU-aaaa,GPU-bbbb");
}

TEST(ExecRunTest, ScratchDirIsPrivateHomeAndWorkingDirAndIsRemoved) {
  TempDir root;
  RunSpec spec = Shell(
      "pwd; echo \"$HOME\"; stat -c %a \"$HOME\"; echo data > file;"
      // Leave something hard to delete behind: a read-only directory tree.
      "mkdir -p ro/inner && touch ro/inner/f && chmod 500 ro/inner ro",
      root.path());
  RunResult r = RunToEnd(spec);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  ASSERT_FALSE(r.scratch_dir.empty());
  EXPECT_EQ(std::filesystem::path(r.scratch_dir).parent_path(), root.path());
  EXPECT_EQ(r.stdout_tail, r.scratch_dir + "\n" + r.scratch_dir + "\n700\n");
  EXPECT_FALSE(std::filesystem::exists(r.scratch_dir));
  EXPECT_TRUE(root.List().empty());
}

TEST(ExecRunTest, KeepScratchLeavesTheDirectory) {
  TempDir root;
  RunSpec spec = Shell("echo kept > note", root.path());
  spec.keep_scratch = true;
  RunResult r = RunToEnd(spec);
  ASSERT_EQ(r.exit_code, 0);
  std::ifstream note(r.scratch_dir + "/note");
  std::string text;
  std::getline(note, text);
  EXPECT_EQ(text, "kept");
}

TEST(ExecRunTest, WorkingDirIsHonoured) {
  TempDir root;
  TempDir work;
  RunSpec spec = Shell("pwd; echo \"$HOME\"", root.path());
  spec.working_dir = work.path();
  RunResult r = RunToEnd(spec);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  EXPECT_EQ(r.stdout_tail, work.path() + "\n" + r.scratch_dir + "\n");
  EXPECT_TRUE(std::filesystem::exists(work.path()));  // never removed: not the runner's
}

TEST(ExecRunTest, MissingWorkingDirIsASpawnError) {
  TempDir root;
  RunSpec spec = Shell("echo should-not-run", root.path());
  spec.working_dir = root.Sub("does-not-exist");
  RunResult r = RunToEnd(spec);
  EXPECT_EQ(r.exit_code, kExitCannotExecute);
  EXPECT_NE(r.spawn_error.find("working dir: " + spec.working_dir), std::string::npos)
      << r.spawn_error;
  EXPECT_EQ(r.stdout_tail, "");
  EXPECT_FALSE(r.succeeded());
}

TEST(ExecRunTest, OutputCapKeepsTheTail) {
  TempDir root;
  Collector collector;
  RunSpec spec = Shell("seq 1 20000; seq 1 5 >&2", root.path());
  spec.output_cap_bytes = 100;
  RunResult r = RunToEnd(spec, OpenPolicy(), &collector);
  ASSERT_EQ(r.exit_code, 0);
  std::string all;
  for (int i = 1; i <= 20000; ++i) all += std::to_string(i) + "\n";
  EXPECT_EQ(r.stdout_tail, all.substr(all.size() - 100));
  EXPECT_EQ(r.stdout_truncated_bytes, all.size() - 100);
  EXPECT_EQ(collector.out(), all);              // the stream itself is never capped
  EXPECT_EQ(r.stderr_tail, "1\n2\n3\n4\n5\n");  // each stream has its own cap
  EXPECT_EQ(r.stderr_truncated_bytes, 0u);
}

TEST(ExecRunTest, TimeoutSendsSigtermFirst) {
  TempDir root;
  // TERM is handled: the process gets to clean up and exit on its own.
  RunSpec spec = Shell("trap 'echo got-term; exit 7' TERM; sleep 60 & wait", root.path());
  spec.timeout_ms = 1000;
  spec.kill_grace_ms = 10'000;
  RunResult r = RunToEnd(spec);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.killed);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.stdout_tail, "got-term\n");
}

TEST(ExecRunTest, TimeoutEscalatesToSigkillWhenTermIsIgnored) {
  TempDir root;
  RunSpec spec = Shell("trap '' TERM; sleep 60", root.path());
  spec.timeout_ms = 1000;
  spec.kill_grace_ms = 300;
  RunResult r = RunToEnd(spec);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.killed);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_FALSE(r.succeeded());
}

TEST(ExecRunTest, KillEndsTheWholeProcessGroup) {
  TempDir root;
  Collector collector;
  RunSpec spec = Shell("sleep 100 & echo $!; sleep 100 & echo $!; wait", root.path());
  auto run = ExecRun::Start(spec, OpenPolicy(), collector.Fn());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const pid_t leader = (*run)->pid();
  ASSERT_GT(leader, 0);
  EXPECT_EQ(::getpgid(leader), leader);  // its own process group
  EXPECT_EQ(::getsid(leader), leader);   // and session
  auto lines = collector.WaitForLines(2);
  ASSERT_EQ(lines.size(), 2u) << collector.out();

  std::thread killer([&] { (*run)->Kill("lease lost"); });
  RunResult r = (*run)->Wait();
  killer.join();
  EXPECT_TRUE(r.killed);
  EXPECT_EQ(r.kill_reason, "lease lost");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGTERM);
  for (const auto& line : lines) {
    EXPECT_TRUE(ProcessEnds(static_cast<pid_t>(std::stol(line)))) << "grandchild " << line;
  }
}

TEST(ExecRunTest, KillSendsSigtermToEveryMemberOfTheGroup) {
  TempDir root;
  Collector collector;
  // The leader's TERM handler waits for the subshell, which ends only if TERM reaches it too.
  RunSpec spec = Shell(
      "trap 'wait; exit 0' TERM;"
      "(trap 'echo sub-term; exit 0' TERM; echo ready; sleep 100 & wait) & wait",
      root.path());
  spec.kill_grace_ms = 10'000;
  auto run = ExecRun::Start(spec, OpenPolicy(), collector.Fn());
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(collector.WaitForLines(1).size(), 1u);
  (*run)->Kill("cancelled");
  RunResult r = (*run)->Wait();
  EXPECT_TRUE(r.killed);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_tail, "ready\nsub-term\n");
}

TEST(ExecRunTest, KillEscalatesToSigkillAfterTheGrace) {
  TempDir root;
  Collector collector;
  RunSpec spec = Shell("trap '' TERM; echo ready; sleep 100", root.path());
  spec.kill_grace_ms = 200;
  auto run = ExecRun::Start(spec, OpenPolicy(), collector.Fn());
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(collector.WaitForLines(1).size(), 1u);  // TERM is ignored from here on
  (*run)->Kill("cancelled");
  (*run)->Kill("second reason is dropped");
  RunResult r = (*run)->Wait();
  EXPECT_TRUE(r.killed);
  EXPECT_EQ(r.kill_reason, "cancelled");
  EXPECT_EQ(r.term_signal, SIGKILL);
}

TEST(ExecRunTest, OrphansLeftByTheLeaderAreKilled) {
  TempDir root;
  // The leader exits at once; the background sleep keeps stdout open and would outlive it.
  RunResult r = RunToEnd(Shell("sleep 100 & echo $!", root.path()));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.killed);
  ASSERT_FALSE(r.stdout_tail.empty());
  EXPECT_TRUE(ProcessEnds(static_cast<pid_t>(std::stol(r.stdout_tail))));
}

TEST(ExecRunTest, KillAfterExitChangesNothing) {
  TempDir root;
  auto run = ExecRun::Start(Shell("exit 0", root.path()), OpenPolicy());
  ASSERT_TRUE(run.ok());
  RunResult first = (*run)->Wait();
  (*run)->Kill("too late");
  RunResult again = (*run)->Wait();
  EXPECT_FALSE(again.killed);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(first.ended_ms, again.ended_ms);
}

TEST(ExecRunTest, LeavesNoZombie) {
  TempDir root;
  auto run = ExecRun::Start(Shell("exit 5", root.path()), OpenPolicy());
  ASSERT_TRUE(run.ok());
  const pid_t pid = (*run)->pid();
  EXPECT_EQ((*run)->Wait().exit_code, 5);
  errno = 0;
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);  // already reaped by the runner
  EXPECT_EQ(errno, ECHILD);
}

TEST(ExecRunTest, DestroyingARunningRunKillsIt) {
  TempDir root;
  pid_t pid = -1;
  {
    auto run = ExecRun::Start(Shell("sleep 100", root.path()), OpenPolicy());
    ASSERT_TRUE(run.ok());
    pid = (*run)->pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);  // killed and reaped
  EXPECT_TRUE(root.List().empty());
}

TEST(ExecRunTest, CommandNotFoundIsAClearError) {
  TempDir root;
  RunSpec spec;
  spec.command = "populi-no-such-command";
  spec.scratch_root = root.path();
  auto run = ExecRun::Start(spec, OpenPolicy());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ((*run)->pid(), -1);
  RunResult r = (*run)->Wait();
  EXPECT_EQ(r.spawn_error, "command not found: populi-no-such-command");
  EXPECT_EQ(r.exit_code, kExitCommandNotFound);
  EXPECT_FALSE(r.succeeded());

  spec.command = root.Sub("missing/tool");
  r = RunToEnd(spec);
  EXPECT_EQ(r.spawn_error, "command not found: " + spec.command);
  EXPECT_EQ(r.exit_code, kExitCommandNotFound);
  EXPECT_TRUE(root.List().empty());
}

TEST(ExecRunTest, NonExecutableFileCannotExecute) {
  TempDir root;
  TempDir bin;
  const std::string tool = bin.Sub("tool");
  std::ofstream(tool) << "#!/bin/sh\necho hi\n";
  ::chmod(tool.c_str(), 0644);
  RunSpec spec;
  spec.command = tool;
  spec.scratch_root = root.path();
  RunResult r = RunToEnd(spec);
  EXPECT_EQ(r.exit_code, kExitCannotExecute);
  EXPECT_EQ(r.spawn_error, "cannot execute: " + tool + " (Permission denied)");
  EXPECT_TRUE(root.List().empty());
}

TEST(ExecRunTest, ResourceLimitsAreVisibleInTheChild) {
  TempDir root;
  RunSpec spec = Shell("ulimit -n; ulimit -t", root.path());
  spec.limits.open_files = 64;
  spec.limits.cpu_seconds = 30;
  RunResult r = RunToEnd(spec);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  EXPECT_EQ(r.stdout_tail, "64\n30\n");
}

TEST(ExecRunTest, NoDescriptorLeaksIntoTheChild) {
  // A descriptor the agent opened without O_CLOEXEC must still not reach the task.
  int leaky[2];
  ASSERT_EQ(::pipe(leaky), 0);
  TempDir root;
  RunSpec spec;
  spec.command = "ls";
  spec.args = {"/proc/self/fd"};
  spec.scratch_root = root.path();
  RunResult r = RunToEnd(spec);
  ::close(leaky[0]);
  ::close(leaky[1]);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  std::set<std::string> fds;
  std::istringstream in(r.stdout_tail);
  for (std::string fd; in >> fd;) fds.insert(fd);
  // 0-2 and the directory ls itself opened to list them.
  EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", "3"})) << r.stdout_tail;

  RunResult stdin_target = RunToEnd(Shell("readlink /proc/self/fd/0", root.path()));
  EXPECT_EQ(stdin_target.stdout_tail, "/dev/null\n");
}

}  // namespace
}  // namespace populi::runners
