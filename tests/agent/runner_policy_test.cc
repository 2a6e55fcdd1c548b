// What the exec runner refuses before anything is forked: bad specs, the strict exec policy and
// a bubblewrap sandbox that is not installed; and the sandboxed run itself where bwrap exists.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/runners/exec_runner.h"
#include "agent/runners/launch.h"
#include "runner_test_util.h"

namespace populi::runners {
namespace {

using testing::OpenPolicy;
using testing::RunToEnd;
using testing::Shell;
using testing::TempDir;

ExecPolicy Strict(std::vector<std::string> allowed) {
  ExecPolicy policy;
  policy.mode = ExecMode::kStrict;
  policy.allowed_commands = std::move(allowed);
  return policy;
}

// An executable script at `path`.
void WriteScript(const std::string& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
}

TEST(ExecPolicyTest, StrictRefusesUnlistedCommandsBeforeForking) {
  TempDir root;
  const std::string marker = root.Sub("ran");
  RunSpec spec;
  spec.command = "touch";
  spec.args = {marker};
  spec.scratch_root = root.path();
  auto run = ExecRun::Start(spec, Strict({"echo", "/usr/bin/true"}));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Code::kPermissionDenied);
  EXPECT_NE(run.status().message().find("\"touch\""), std::string::npos);
  EXPECT_NE(run.status().hint().find("mesh.policy.allowed_commands"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_TRUE(root.List().empty());  // not even a scratch dir

  // The default policy is strict with nothing allowed.
  EXPECT_EQ(ExecRun::Start(spec, ExecPolicy{}).status().code(), Code::kPermissionDenied);
}

TEST(ExecPolicyTest, StrictRunsCommandsListedByNameOrPath) {
  TempDir root;
  RunSpec spec = Shell("echo allowed", root.path());
  RunResult by_name = RunToEnd(spec, Strict({"sh"}));
  EXPECT_EQ(by_name.stdout_tail, "allowed\n");

  const std::string sh_path = internal::SearchPath("sh", internal::AgentPath());
  ASSERT_FALSE(sh_path.empty());
  RunResult by_path = RunToEnd(spec, Strict({sh_path}));
  EXPECT_EQ(by_path.stdout_tail, "allowed\n");

  spec.command = sh_path;  // an absolute command matches a listed name that finds it
  RunResult absolute = RunToEnd(spec, Strict({"sh"}));
  EXPECT_EQ(absolute.stdout_tail, "allowed\n");
}

TEST(ExecPolicyTest, StrictIsNotFooledByAProgramOfTheSameName) {
  TempDir root;
  TempDir bin;
  WriteScript(bin.Sub("sh"), "echo impostor");
  // Through the task's own PATH ...
  RunSpec spec = Shell("echo real", root.path());
  spec.env["PATH"] = bin.path();
  EXPECT_EQ(ExecRun::Start(spec, Strict({"sh"})).status().code(), Code::kPermissionDenied);
  // ... or by naming it directly.
  spec = Shell("echo real", root.path());
  spec.command = bin.Sub("sh");
  EXPECT_EQ(ExecRun::Start(spec, Strict({"sh"})).status().code(), Code::kPermissionDenied);
  // Open mode runs it: the task's PATH decides which program a bare name means.
  spec = Shell("", root.path());
  spec.env["PATH"] = bin.path();
  EXPECT_EQ(RunToEnd(spec, OpenPolicy()).stdout_tail, "impostor\n");
}

TEST(ExecPolicyTest, StrictListedButMissingIsCommandNotFound) {
  TempDir root;
  RunSpec spec;
  spec.command = "populi-no-such-tool";
  spec.scratch_root = root.path();
  RunResult r = RunToEnd(spec, Strict({"populi-no-such-tool"}));
  EXPECT_EQ(r.spawn_error, "command not found: populi-no-such-tool");
  EXPECT_EQ(r.exit_code, kExitCommandNotFound);
}

TEST(ExecPolicyTest, MissingBubblewrapIsRefusedWithAnInstallHint) {
  TempDir root;
  ExecPolicy policy = OpenPolicy();
  policy.sandbox = Sandbox::kBwrap;
  policy.bwrap_path = root.Sub("no-bwrap-here");
  auto run = ExecRun::Start(Shell("echo unsandboxed", root.path()), policy);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(run.status().hint().find("apt-get install bubblewrap"), std::string::npos);
  EXPECT_TRUE(root.List().empty());
}

TEST(ExecPolicyTest, BubblewrapSandboxRunsOrIsRefused) {
  TempDir root;
  ExecPolicy policy = OpenPolicy();
  policy.sandbox = Sandbox::kBwrap;
  RunSpec spec = Shell(
      "echo inside > \"$HOME/f\" && cat \"$HOME/f\";"
      "touch /usr/populi-sandbox-probe 2>/dev/null && echo root-writable || echo root-read-only;"
      "touch /tmp/populi-sandbox-probe && ls /tmp | grep -c populi-sandbox-probe",
      root.path());
  auto bwrap = internal::FindBwrap(policy, internal::AgentPath());
  auto run = ExecRun::Start(spec, policy);
  if (!bwrap.ok()) {
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(run.status().hint().find("apt-get install bubblewrap"), std::string::npos);
    return;
  }
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  RunResult r = (*run)->Wait();
  if (r.exit_code != 0 && r.stderr_tail.find("bwrap:") != std::string::npos) {
    GTEST_SKIP() << "bubblewrap cannot create namespaces here: " << r.stderr_tail;
  }
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  // HOME is writable, the root is not, and /tmp is the sandbox's own (only the probe in it).
  EXPECT_EQ(r.stdout_tail, "inside\nroot-read-only\n1\n");
  EXPECT_FALSE(std::filesystem::exists("/tmp/populi-sandbox-probe"));
}

TEST(ExecPolicyTest, ParsesConfigurationWords) {
  EXPECT_EQ(*ParseExecMode("strict"), ExecMode::kStrict);
  EXPECT_EQ(*ParseExecMode("permissive"), ExecMode::kOpen);
  EXPECT_EQ(*ParseExecMode("open"), ExecMode::kOpen);
  EXPECT_EQ(ParseExecMode("lax").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(*ParseSandbox("none"), Sandbox::kNone);
  EXPECT_EQ(*ParseSandbox("bwrap"), Sandbox::kBwrap);
  EXPECT_EQ(ParseSandbox("docker").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ToString(OutputStream::kStdout), "stdout");
  EXPECT_EQ(ToString(OutputStream::kStderr), "stderr");
}

TEST(RunSpecTest, BadSpecsAreInvalidArguments) {
  TempDir root;
  auto code_of = [&](RunSpec spec) { return ExecRun::Start(spec, OpenPolicy()).status().code(); };
  RunSpec empty;
  EXPECT_EQ(code_of(empty), Code::kInvalidArgument);
  RunSpec bad_env = Shell("true", root.path());
  bad_env.env["A=B"] = "c";
  EXPECT_EQ(code_of(bad_env), Code::kInvalidArgument);
  RunSpec relative_dir = Shell("true", root.path());
  relative_dir.working_dir = "relative/dir";
  EXPECT_EQ(code_of(relative_dir), Code::kInvalidArgument);
  RunSpec negative = Shell("true", root.path());
  negative.timeout_ms = -1;
  EXPECT_EQ(code_of(negative), Code::kInvalidArgument);
  RunSpec gpus_without_uuids = Shell("true", root.path());
  gpus_without_uuids.gpus_requested = 1;
  auto refused = ExecRun::Start(gpus_without_uuids, OpenPolicy());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("GPU"), std::string::npos);
  EXPECT_TRUE(root.List().empty());
}

TEST(RunSpecTest, BuiltFromATask) {
  mesh::Task task;
  task.id = "task-7";
  task.spec.command = "python3";
  task.spec.args = {"train.py", "--epochs", "3"};
  task.spec.env = {{"SEED", "1"}};
  task.spec.working_dir = "/srv/job";
  task.spec.timeout_ms = 60'000;
  task.spec.resources.gpus = 1;
  RunSpec spec = RunSpecForTask(task, 2, {"GPU-1234"});
  EXPECT_EQ(spec.task_id, "task-7");
  EXPECT_EQ(spec.attempt, 2);
  EXPECT_EQ(spec.command, "python3");
  EXPECT_EQ(spec.args, task.spec.args);
  EXPECT_EQ(spec.env, task.spec.env);
  EXPECT_EQ(spec.working_dir, "/srv/job");
  EXPECT_EQ(spec.timeout_ms, 60'000);
  EXPECT_EQ(spec.gpus_requested, 1u);
  EXPECT_EQ(spec.gpu_uuids, std::vector<std::string>{"GPU-1234"});
  EXPECT_EQ(spec.kill_grace_ms, kDefaultKillGraceMs);
  EXPECT_EQ(spec.output_cap_bytes, kDefaultOutputCapBytes);
}

TEST(LaunchTest, BwrapArgvBindsOnlyTheScratchDirWritable) {
  auto argv = internal::BwrapArgv("/usr/bin/bwrap", "/tmp/s", "/tmp/s", "/usr/bin/python3",
                                  {"-c", "print(1)"});
  const std::vector<std::string> expected = {"/usr/bin/bwrap",
                                             "--ro-bind",
                                             "/",
                                             "/",
                                             "--proc",
                                             "/proc",
                                             "--dev",
                                             "/dev",
                                             "--tmpfs",
                                             "/tmp",
                                             "--bind",
                                             "/tmp/s",
                                             "/tmp/s",
                                             "--unshare-all",
                                             "--share-net",
                                             "--die-with-parent",
                                             "--chdir",
                                             "/tmp/s",
                                             "--",
                                             "/usr/bin/python3",
                                             "-c",
                                             "print(1)"};
  EXPECT_EQ(argv, expected);
}

TEST(LaunchTest, SearchPathSkipsRelativeAndNonExecutableEntries) {
  TempDir a;
  TempDir b;
  std::ofstream(a.Sub("tool")) << "not executable";
  WriteScript(b.Sub("tool"), "true");
  EXPECT_EQ(internal::SearchPath("tool", "relative:" + a.path() + "::" + b.path()), b.Sub("tool"));
  EXPECT_EQ(internal::SearchPath("tool", a.path()), "");
}

}  // namespace
}  // namespace populi::runners
