// The task verbs (`submit`, `tasks`, `wait`, `logs`, `cancel`, `explain`) running real tasks: the
// real `vox` binary against a `vox populi serve` with its local worker (CPU-only mock inventory,
// `sh` allowed). Each test first checks that the control plane has the task routes and is skipped
// when it does not.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "cli/serve_process.h"
#include "client/control_plane_api.h"
#include "config/test_files.h"

namespace populi::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kRunAdminToken[] = "task-run-test-admin-token-0123456789abcd";

// ---- with the task routes ----

class TaskRoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string root = dir_->Sub("mesh");
    WriteFile(root + "/cpu-only.json",
              R"({"cpu":{"model":"Demo CPU","cores":4,"threads":8,"numa_nodes":1}})");
    ServeOptions options;
    options.worker = true;
    options.env = {{"VOX_MESH_PROBE_ORDER", "mock"},
                   {"VOX_MESH_PROBE_MOCK_FIXTURE", root + "/cpu-only.json"},
                   {"VOX_MESH_POLICY_ALLOWED_COMMANDS", "sh"}};
    serve_ = new ServeProcess(root, kRunAdminToken, options);
    ASSERT_TRUE(serve_->Start());
  }
  static void TearDownTestSuite() {
    // A graceful stop waits out the local agent's parked inbox long-poll (seconds), which these
    // tests are not about; the store is thrown away with the directory.
    if (serve_ != nullptr) serve_->Stop(/*graceful=*/false);
    delete serve_;
    delete dir_;
  }

  // True when POST /v1/populi/tasks exists (an empty spec is refused by it, not by the router).
  static bool HasTaskRoutes() {
    auto refused = client::ControlPlaneApi(serve_->url(), kRunAdminToken).Submit(mesh::TaskSpec{});
    return refused.ok() || refused.status().code() != Code::kNotFound ||
           refused.status().message().find("no route") == std::string::npos;
  }

  void SetUp() override {
    if (!HasTaskRoutes()) {
      GTEST_SKIP() << "the control plane has no task routes (POST /v1/populi/tasks answers 404 "
                      "no route); the task verbs cannot run against it";
    }
  }

  // `submit --detach` of `script` under sh; the task id.
  static std::string Detach(const std::string& script, const std::vector<std::string>& flags = {}) {
    std::vector<std::string> args = {"populi", "submit", "--detach"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--", "sh", "-c", script});
    VoxRun run = serve_->Vox(args);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    std::string id = run.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  static inline TempDir* dir_ = nullptr;
  static inline ServeProcess* serve_ = nullptr;
};

TEST_F(TaskRoutesTest, SubmitStreamsBothStreamsAndExitsWithTheTaskExitCode) {
  VoxRun run =
      serve_->Vox({"populi", "submit", "--", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_EQ(run.out, "out\n");
  EXPECT_THAT(run.err, HasSubstr("err\n"));
  EXPECT_THAT(run.err, Not(HasSubstr("\r"))) << "no progress indicator off a terminal";
  EXPECT_THAT(run.err, Not(HasSubstr("pending")));

  VoxRun ok = serve_->Vox(
      {"populi", "submit", "--env", "GREETING=hello", "--", "sh", "-c", "echo $GREETING"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "hello\n");
}

TEST_F(TaskRoutesTest, DetachPrintsTheIdAndWaitExitsWithTheTaskExitCode) {
  const std::string id = Detach("echo hi; exit 4");
  ASSERT_THAT(id, StartsWith("t-"));
  VoxRun wait = serve_->Vox({"populi", "wait", id, "--timeout", "20s"});
  EXPECT_EQ(wait.exit_code, 4) << wait.err;
  EXPECT_EQ(wait.out, id + " failed (exit 4)\n");

  VoxRun json_detach =
      serve_->Vox({"populi", "submit", "--detach", "--json", "--", "sh", "-c", "exit 0"});
  ASSERT_EQ(json_detach.exit_code, 0) << json_detach.err;
  json::value task = Parse(json_detach.out);
  EXPECT_EQ(task.at("spec").at("command"), "sh");
  VoxRun json_wait = serve_->Vox({"populi", "wait", Str(task.at("id")), "--json"});
  EXPECT_EQ(json_wait.exit_code, 0) << json_wait.err;
  EXPECT_EQ(Parse(json_wait.out).at("state"), "succeeded");
}

TEST_F(TaskRoutesTest, SubmitFlagsTakeTheSizeAndDurationGrammarOfVoxToml) {
  // A bare duration is seconds on the command line as in Vox.toml; sizes take fractions.
  VoxRun run = serve_->Vox({"populi", "submit", "--detach", "--json", "--timeout", "90", "--mem",
                            "1.5K", "--", "sh", "-c", "exit 0"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json::value task = Parse(run.out);
  EXPECT_EQ(task.at("spec").at("timeout_ms").to_number<int64_t>(), 90'000);
  EXPECT_EQ(task.at("spec").at("resources").at("memory_bytes").to_number<int64_t>(), 1536);
  // The mock node reports no free memory ("need 1.5K, best 0B free"): cancel the task.
  EXPECT_EQ(serve_->Vox({"populi", "cancel", Str(task.at("id"))}).exit_code, 0);
}

TEST_F(TaskRoutesTest, TheSameClientKeyIsTheSameTask) {
  const std::string first = Detach("true", {"--key", "same-key-1"});
  const std::string second = Detach("true", {"--key", "same-key-1"});
  EXPECT_EQ(first, second);
  EXPECT_NE(Detach("true"), Detach("true")) << "default keys are random";
}

TEST_F(TaskRoutesTest, LogsPrintsEachStreamWhereItBelongs) {
  const std::string id = Detach("echo one; echo two >&2; echo three");
  ASSERT_EQ(serve_->Vox({"populi", "wait", id, "--timeout", "20s"}).exit_code, 0);
  VoxRun logs = serve_->Vox({"populi", "logs", id});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(logs.out, "one\nthree\n");
  EXPECT_EQ(logs.err, "two\n");

  VoxRun follow = serve_->Vox({"populi", "logs", id, "-f"});
  ASSERT_EQ(follow.exit_code, 0) << follow.err;
  EXPECT_EQ(follow.out, "one\nthree\n");

  VoxRun json_logs = serve_->Vox({"populi", "logs", id, "--json"});
  ASSERT_EQ(json_logs.exit_code, 0) << json_logs.err;
  json::value doc = Parse(json_logs.out);
  std::string joined;
  for (const auto& record : doc.at("logs").as_array()) {
    if (record.at("stream") == "stdout") joined += Str(record.at("data"));
  }
  EXPECT_EQ(joined, "one\nthree\n");
  EXPECT_EQ(doc.at("ended"), true);

  VoxRun unknown = serve_->Vox({"populi", "logs", "t-no-such-task"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
}

TEST_F(TaskRoutesTest, CancelEndsARunningTaskAndRefusesAnEndedOne) {
  const std::string id = Detach("sleep 60");
  VoxRun cancel = serve_->Vox({"populi", "cancel", id});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_EQ(cancel.out, id + " cancelled\n");
  VoxRun wait = serve_->Vox({"populi", "wait", id, "--timeout", "20s"});
  EXPECT_EQ(wait.exit_code, 130) << wait.err;
  EXPECT_THAT(wait.err, HasSubstr("was cancelled"));

  VoxRun again = serve_->Vox({"populi", "cancel", id});
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_THAT(again.err, StartsWith("error: "));
  EXPECT_THAT(again.err, HasSubstr("\nhint: "));
}

TEST_F(TaskRoutesTest, AnUnplaceableTaskStaysPendingAndExplainSaysWhy) {
  const std::string id = Detach("true", {"--gpus", "8", "--vram", "80G"});
  VoxRun wait = serve_->Vox({"populi", "wait", id, "--timeout", "1s"});
  EXPECT_EQ(wait.exit_code, 1) << wait.err;
  EXPECT_THAT(wait.err, HasSubstr("task " + id + " still pending after 1s"));
  VoxRun bare = serve_->Vox({"populi", "wait", id, "--timeout", "1"});
  EXPECT_EQ(bare.exit_code, 1) << bare.err;
  EXPECT_THAT(bare.err, HasSubstr("task " + id + " still pending after 1s")) << "bare is seconds";
  EXPECT_THAT(wait.err, HasSubstr("vox populi explain " + id));

  VoxRun explain = serve_->Vox({"populi", "explain", id});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_THAT(explain.out, StartsWith("task " + id + ": pending\npending: "));
  EXPECT_THAT(explain.out, HasSubstr("no attempts yet"));
  VoxRun json_explain = serve_->Vox({"populi", "explain", id, "--json"});
  EXPECT_EQ(Parse(json_explain.out).at("task_id"), id.c_str());

  VoxRun listed = serve_->Vox({"populi", "tasks", "--state", "pending"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, MatchesRegex("ID +STATE +NODE +ATTEMPTS +EXIT +AGE +COMMAND\n(.|\n)*"));
  EXPECT_THAT(listed.out, HasSubstr(id + "  pending"));
  EXPECT_EQ(serve_->Vox({"populi", "cancel", id}).exit_code, 0);
}

TEST_F(TaskRoutesTest, TasksListsEndedTasksWithTheirExitAndATruncatedCommand) {
  const std::string long_script = "echo " + std::string(60, 'x');
  const std::string id = Detach(long_script);
  ASSERT_EQ(serve_->Vox({"populi", "wait", id, "--timeout", "20s"}).exit_code, 0);
  VoxRun table = serve_->Vox({"populi", "tasks", "--limit", "100"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  const size_t at = table.out.find("\n" + id + " ");
  ASSERT_NE(at, std::string::npos) << table.out;
  const std::string row = table.out.substr(at + 1, table.out.find('\n', at + 1) - at - 1);
  EXPECT_THAT(row, HasSubstr("succeeded"));
  EXPECT_THAT(row, HasSubstr(" 1 "));  // attempts
  const std::string command = row.substr(row.find("sh -c"));
  EXPECT_EQ(command, ("sh -c " + long_script).substr(0, 39) + "\u2026");

  VoxRun json_run = serve_->Vox({"populi", "tasks", "--state", "succeeded", "--json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  bool found = false;
  const json::value doc = Parse(json_run.out);
  for (const auto& t : doc.at("tasks").as_array()) {
    EXPECT_EQ(t.at("state"), "succeeded");
    found = found || t.at("id") == id.c_str();
  }
  EXPECT_TRUE(found) << json_run.out;
}

TEST_F(TaskRoutesTest, OnATerminalSubmitShowsWhyTheTaskWaitsAndExits130WhenCancelled) {
  std::string id;
  VoxRun run = serve_->VoxWithStderrOnTerminal(
      {"populi", "submit", "--gpus", "8", "--", "sh", "-c", "echo never"},
      [&id](const std::string& terminal) {
        const size_t at = terminal.find(" pending: ");
        if (!id.empty() || at == std::string::npos) return;
        id = terminal.substr(terminal.rfind("t-", at), at - terminal.rfind("t-", at));
        auto cancelled = client::ControlPlaneApi(serve_->url(), kRunAdminToken).Cancel(id);
        EXPECT_TRUE(cancelled.ok()) << cancelled.status().ToString();
      });
  ASSERT_THAT(id, StartsWith("t-")) << run.err;
  EXPECT_EQ(run.exit_code, 130) << run.err;
  EXPECT_EQ(run.out, "");
  // Drawn in place on one line, with the scheduler's reason, then cleared before the last words.
  EXPECT_THAT(run.err, StartsWith("\r\033[K" + id + " pending: "));
  EXPECT_THAT(run.err, HasSubstr("GPU"));
  EXPECT_THAT(run.err, HasSubstr("\r\033[Ktask " + id + " was cancelled"));
}

TEST_F(TaskRoutesTest, ATaskThatFailsWithoutAnExitCodeExitsOneWithTheAttemptsError) {
  // The worker runs only `sh` (strict exec policy): `true` is refused on the node.
  VoxRun run = serve_->Vox({"populi", "submit", "--", "true"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.out, "");
  // What the node said on the task's stderr comes first; the CLI's error is last.
  EXPECT_THAT(run.err, MatchesRegex("(.|\n)*error: task t-[^ ]+ failed: .+\n"
                                    "hint: see every attempt with `vox populi explain t-.*`\n"));
}

}  // namespace
}  // namespace populi::testing
