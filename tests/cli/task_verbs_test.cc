// The task verbs (`submit`, `tasks`, `wait`, `logs`, `cancel`, `explain`), `leases` and the admin
// verbs as the real `vox` binary against a real `vox populi serve`.
//
// TaskVerbsTest needs only the routes every control plane has (nodes, exec leases, admin) and a
// serve without a worker. TaskRoutesTest runs tasks on a serve with its local worker; each of its
// tests first checks that the control plane has the task routes and is skipped when it does not.
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

// Run by hand (without ctest's $VOX_BIN), the binary is found in the build tree beside this test:
// <build>/tests/cli/<test> → <build>/src/cli/vox.
#ifndef VOX_BIN_AT_BUILD
#include <climits>
namespace populi::testing {
inline const char* VoxInBuildTree() {
  static const std::string path = [] {
    char self[PATH_MAX] = {};
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    std::filesystem::path exe(std::string(self, n > 0 ? static_cast<size_t>(n) : 0));
    return (exe.parent_path().parent_path().parent_path() / "src/cli/vox").string();
  }();
  return path.c_str();
}
}  // namespace populi::testing
#define VOX_BIN_AT_BUILD ::populi::testing::VoxInBuildTree()
#endif

#include "cli/run_vox.h"
#include "client/http_client.h"
#include "config/test_files.h"

namespace populi::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kAdminToken[] = "task-verbs-test-admin-token-0123456789ab";
// A vox run that has not exited by then is killed and reported as exit code -2, so a verb that
// never returns fails its test instead of hanging the binary.
constexpr int kVoxDeadlineSecs = 30;

// RunVox with a deadline: stdout and stderr to files, read back after exit.
VoxRun RunVoxWithin(const VoxEnv& env, const std::vector<std::string>& args,
                    const std::string& scratch) {
  const std::string out_path = scratch + "/vox.out", err_path = scratch + "/vox.err";
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    internal::ExecVox(env, args);
  }
  VoxRun run;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kVoxDeadlineSecs);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      run.exit_code = -2;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (run.exit_code != -2) {
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  run.out = ReadFile(out_path);
  run.err = ReadFile(err_path);
  return run;
}

// Runs vox with stderr on a pseudo-terminal and stdout to a file. `on_terminal` sees everything
// written to the terminal so far after each read (it may act on it, once or every time); the run
// ends when vox exits, or is killed at the deadline (exit code -2).
VoxRun RunVoxWithStderrOnTerminal(const VoxEnv& env, const std::vector<std::string>& args,
                                  const std::string& scratch,
                                  const std::function<void(const std::string&)>& on_terminal) {
  int master = -1, slave = -1;
  if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return {};
  const std::string out_path = scratch + "/vox.out";
  const pid_t pid = fork();
  if (pid == 0) {
    close(master);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(slave, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    internal::ExecVox(env, args);
  }
  close(slave);
  VoxRun run;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kVoxDeadlineSecs);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fd{master, POLLIN, 0};
    if (poll(&fd, 1, 100) <= 0) continue;
    const ssize_t n = read(master, buf, sizeof(buf));
    if (n <= 0) break;  // EIO once vox has exited and the terminal has no writer
    run.err.append(buf, static_cast<size_t>(n));
    on_terminal(run.err);
  }
  close(master);
  if (std::chrono::steady_clock::now() >= deadline) kill(pid, SIGKILL);
  run.exit_code = internal::WaitExit(pid);
  if (run.exit_code == 128 + SIGKILL) run.exit_code = -2;
  run.out = ReadFile(out_path);
  return run;
}

// A `vox populi serve` in its own VOX_HOME with the admin token in its user config; with
// `worker` its local agent joins too, reporting the mock probe's CPU-only inventory.
class ServeProcess {
 public:
  ServeProcess(const std::string& root, bool worker) : root_(root), worker_(worker) {
    std::filesystem::create_directories(root_ + "/ws");
    std::filesystem::create_directories(root_ + "/scratch");
    WriteFile(root_ + "/home/config.toml",
              std::string("[mesh]\ntoken = \"") + kAdminToken +
                  "\"\n[mesh.auth]\nadmin_token = \"" + kAdminToken + "\"\n",
              0600);
    WriteFile(root_ + "/cpu-only.json",
              R"({"cpu":{"model":"Demo CPU","cores":4,"threads":8,"numa_nodes":1}})");
    env_.cwd = root_ + "/ws";
    env_.vars["HOME"] = root_ + "/user";
    env_.vars["VOX_HOME"] = root_ + "/home";
    env_.vars["VOX_MESH_PROBE_ORDER"] = "mock";
    env_.vars["VOX_MESH_PROBE_MOCK_FIXTURE"] = root_ + "/cpu-only.json";
    env_.vars["VOX_MESH_POLICY_ALLOWED_COMMANDS"] = "sh";
  }
  ~ServeProcess() { Stop(); }

  // Starts serve and waits for its `listening on URL` line. False when it did not come.
  bool Start() {
    int out[2];
    if (pipe(out) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no serve behind
      close(out[0]);
      dup2(out[1], STDOUT_FILENO);
      const int log = open((root_ + "/serve.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, STDERR_FILENO);
      std::vector<std::string> args = {"populi", "serve", "--bind", "127.0.0.1:0"};
      if (!worker_) args.push_back("--no-worker");
      internal::ExecVox(env_, args);
    }
    close(out[1]);
    std::string line;
    char c = 0;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    const std::string prefix = "listening on ";
    if (line.rfind(prefix, 0) != 0) return false;
    url_ = line.substr(prefix.size());
    return true;
  }

  // SIGTERM (a graceful stop) and wait, or SIGKILL when `graceful` is false.
  void Stop(bool graceful = true) {
    if (pid_ <= 0) return;
    kill(pid_, graceful ? SIGTERM : SIGKILL);
    internal::WaitExit(pid_);
    pid_ = -1;
  }

  VoxRun Vox(const std::vector<std::string>& args) const {
    return RunVoxWithin(env_, args, root_ + "/scratch");
  }
  VoxRun VoxWithStderrOnTerminal(const std::vector<std::string>& args,
                                 const std::function<void(const std::string&)>& on_terminal) const {
    return RunVoxWithStderrOnTerminal(env_, args, root_ + "/scratch", on_terminal);
  }

  const std::string& url() const { return url_; }

 private:
  std::string root_;
  bool worker_;
  VoxEnv env_;
  pid_t pid_ = -1;
  std::string url_;
};

json::value Parse(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  return ec ? json::value() : v;
}

std::string Str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

// The node record `id` from GET /v1/populi/nodes, or an empty object.
json::object NodeRecord(const std::string& url, const std::string& id) {
  client::HttpClient http(url, kAdminToken);
  auto reply = http.Send("GET", "/v1/populi/nodes");
  if (!reply.ok()) return {};
  json::value doc = Parse(reply->body);
  for (const auto& n : doc.at("nodes").as_array()) {
    if (n.at("id") == id.c_str()) return n.as_object();
  }
  return {};
}

// ---- without the task routes ----

class TaskVerbsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    serve_ = new ServeProcess(dir_->Sub("mesh"), /*worker=*/false);
    ASSERT_TRUE(serve_->Start());
    client::HttpClient http(serve_->url(), kAdminToken);
    for (const char* node : {"lease-box", "maint-box", "quiet-box"}) {
      ASSERT_TRUE(http.Send("POST", "/v1/populi/join",
                            std::string(R"({"id":")") + node + R"(","version":"0.1.0"})")
                      .ok());
    }
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete dir_;
  }

  // Grants a one-hour exec lease on `scope` to lease-box; its id.
  static std::string GrantLease(const std::string& scope) {
    client::HttpClient http(serve_->url(), kAdminToken);
    auto reply = http.Send(
        "POST", "/v1/populi/exec/lease/grant",
        R"({"scope_key":")" + scope + R"(","holder_node_id":"lease-box","ttl_ms":3600000})");
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    return reply.ok() ? Str(Parse(reply->body).at("lease_id")) : std::string();
  }

  static inline TempDir* dir_ = nullptr;
  static inline ServeProcess* serve_ = nullptr;
};

TEST_F(TaskVerbsTest, UsageErrorsExitTwoBeforeAnyRequest) {
  // Every case names an unreachable control plane: a usage error must win over exit 3.
  const std::string url = "--control-url=http://127.0.0.1:1";
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"populi", "submit", url, "--vram", "12Q", "--", "true"}, "--vram"},
      {{"populi", "submit", url, "--mem", "8X", "--", "true"}, "--mem"},
      {{"populi", "submit", url, "--timeout", "10", "--", "true"}, "bad duration \"10\""},
      {{"populi", "submit", url, "--timeout", "5 minutes", "--", "true"}, "bad duration"},
      {{"populi", "submit", url, "--gpus", "1"}, "missing the command to run after --"},
      {{"populi", "submit", url, "--gpus", "1", "--"}, "missing the command to run after --"},
      {{"populi", "submit", url, "--label", "gpu", "--", "true"},
       "--label \"gpu\" is not KEY=VALUE"},
      {{"populi", "submit", url, "--env", "=1", "--", "true"}, "--env \"=1\""},
      {{"populi", "submit", url, "--gpus", "0", "--vram", "8G", "--", "true"}, "--vram needs"},
      {{"populi", "submit", url, "--max-attempts", "0", "--", "true"}, "--max-attempts"},
      {{"populi", "submit", url, "--gpus", "two", "--", "true"}, "--gpus"},
      {{"populi", "wait", url, "t-1", "--timeout", "soon"}, "bad duration \"soon\""},
      {{"populi", "wait", url}, "ID"},
      {{"populi", "tasks", url, "--state", "sleeping"}, "--state"},
      {{"populi", "admin", "maintenance", url, "maint-box", "--off", "--for", "1h"}, "--for"},
      {{"populi", "admin", "maintenance", url, "maint-box", "--for", "0s"}, "--for"},
      {{"populi", "admin"}, "subcommand"},
  };
  for (const Case& c : cases) {
    VoxRun run = serve_->Vox(c.args);
    const std::string where = ::testing::PrintToString(c.args);
    EXPECT_EQ(run.exit_code, 2) << where << "\n" << run.err;
    EXPECT_THAT(run.err, StartsWith("error: ")) << where;
    EXPECT_THAT(run.err, HasSubstr(c.says)) << where;
    EXPECT_THAT(run.err, HasSubstr("\nhint: ")) << where;
  }
}

TEST_F(TaskVerbsTest, SubmitArgumentsAfterTheSeparatorAreTheCommandsOwn) {
  // `--json` and `--gpus` after `--` belong to the command; the submit fails only on the
  // unreachable URL (exit 3), and its error is text, not JSON.
  VoxRun run = serve_->Vox({"populi", "submit", "--control-url", "http://127.0.0.1:1", "--", "tool",
                            "--json", "--gpus", "9"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_THAT(run.err, StartsWith("error: "));
  // A repeatable flag takes one value, so `--` after it still starts the command.
  VoxRun repeated = serve_->Vox({"populi", "submit", "--control-url", "http://127.0.0.1:1",
                                 "--label", "a=b", "--env", "K=V", "--", "tool", "-c", "x"});
  EXPECT_EQ(repeated.exit_code, 3) << repeated.err;
}

TEST_F(TaskVerbsTest, AnUnreachableControlPlaneExitsThreeWithAHint) {
  ServeProcess stopped(dir_->Sub("stopped"), /*worker=*/false);
  ASSERT_TRUE(stopped.Start());
  const std::string url = stopped.url();
  stopped.Stop();
  const std::vector<std::vector<std::string>> verbs = {
      {"populi", "submit", "--control-url", url, "--", "true"},
      {"populi", "submit", "--detach", "--control-url", url, "--", "true"},
      {"populi", "tasks", "--control-url", url},
      {"populi", "wait", "t-1", "--control-url", url},
      {"populi", "logs", "t-1", "-f", "--control-url", url},
      {"populi", "cancel", "t-1", "--control-url", url},
      {"populi", "explain", "t-1", "--control-url", url},
      {"populi", "leases", "--control-url", url},
      {"populi", "admin", "quarantine", "quiet-box", "--control-url", url},
      {"populi", "admin", "exec-lease-revoke", "abcd", "--control-url", url},
      {"populi", "leases"},  // serve removed its control-url file: no URL at all
  };
  for (const auto& args : verbs) {
    VoxRun run = stopped.Vox(args);
    const std::string where = ::testing::PrintToString(args);
    EXPECT_EQ(run.exit_code, 3) << where << "\n" << run.err;
    EXPECT_THAT(run.err, HasSubstr("hint: ")) << where;
    EXPECT_THAT(run.err, HasSubstr("vox populi serve")) << where;
  }
  VoxRun json_run = stopped.Vox({"populi", "leases", "--json", "--control-url", url});
  EXPECT_EQ(json_run.exit_code, 3);
  EXPECT_EQ(Parse(json_run.err).at("error").at("code"), "unavailable");
}

TEST_F(TaskVerbsTest, LeasesListsLiveLeasesAsATableAndAsJson) {
  const std::string id = GrantLease("task:demo-table");
  ASSERT_EQ(id.size(), 32u);

  VoxRun json_run = serve_->Vox({"populi", "leases", "--json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  json::value doc = Parse(json_run.out);
  bool found = false;
  for (const auto& l : doc.at("leases").as_array()) {
    if (l.at("lease_id") != id.c_str()) continue;
    found = true;
    EXPECT_EQ(l.at("scope_key"), "task:demo-table");
    EXPECT_EQ(l.at("holder_node_id"), "lease-box");
    EXPECT_EQ(l.at("state"), "granted");
  }
  EXPECT_TRUE(found) << json_run.out;

  VoxRun table = serve_->Vox({"populi", "leases"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  const std::string header = table.out.substr(0, table.out.find('\n'));
  EXPECT_THAT(header, MatchesRegex("LEASE +SCOPE +HOLDER +TOKEN +STATE +EXPIRES"));
  const size_t at = table.out.find("\n" + id.substr(0, 8) + " ");
  ASSERT_NE(at, std::string::npos) << table.out;
  const std::string row = table.out.substr(at + 1, table.out.find('\n', at + 1) - at - 1);
  EXPECT_THAT(row, MatchesRegex(id.substr(0, 8) +
                                " +task:demo-table +lease-box +[0-9]+ +granted +in [0-9]+[smh]"));
  EXPECT_THAT(table.out, Not(HasSubstr(id.substr(8)))) << "only the first 8 characters";
  EXPECT_THAT(table.out, Not(HasSubstr("\033["))) << "no colour when piped";
  // The header's columns line up with the row's.
  EXPECT_EQ(header.find("SCOPE"), row.find("task:demo-table"));
  EXPECT_EQ(header.find("STATE"), row.find("granted"));
}

TEST_F(TaskVerbsTest, MaintenanceOnAndOffShowsInTheNodeRecord) {
  VoxRun on = serve_->Vox({"populi", "admin", "maintenance", "maint-box", "--for", "1h"});
  ASSERT_EQ(on.exit_code, 0) << on.err;
  EXPECT_THAT(on.out, HasSubstr("node maint-box: maintenance on, ends in "));
  json::object node = NodeRecord(serve_->url(), "maint-box");
  EXPECT_EQ(node.at("maintenance"), true);
  const int64_t until = node.at("maintenance_until_ms").as_int64();
  EXPECT_GT(until, node.at("last_seen_ms").as_int64() + 50 * 60 * 1000) << "about an hour ahead";

  VoxRun off = serve_->Vox({"populi", "admin", "maintenance", "maint-box", "--off", "--json"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(Parse(off.out).at("maintenance"), false);
  EXPECT_EQ(NodeRecord(serve_->url(), "maint-box").at("maintenance"), false);

  VoxRun open_ended = serve_->Vox({"populi", "admin", "maintenance", "maint-box"});
  ASSERT_EQ(open_ended.exit_code, 0) << open_ended.err;
  EXPECT_THAT(open_ended.out, HasSubstr("maintenance on until cleared"));
  EXPECT_EQ(NodeRecord(serve_->url(), "maint-box").at("maintenance"), true);
  ASSERT_EQ(serve_->Vox({"populi", "admin", "maintenance", "maint-box", "--off"}).exit_code, 0);

  VoxRun unknown = serve_->Vox({"populi", "admin", "maintenance", "no-such-box"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("node no-such-box is not registered"));
}

TEST_F(TaskVerbsTest, QuarantineOnAndOffShowsInTheNodeRecord) {
  VoxRun on = serve_->Vox({"populi", "admin", "quarantine", "quiet-box"});
  ASSERT_EQ(on.exit_code, 0) << on.err;
  EXPECT_THAT(on.out, HasSubstr("node quiet-box: quarantined"));
  EXPECT_EQ(NodeRecord(serve_->url(), "quiet-box").at("quarantined"), true);
  VoxRun peers = serve_->Vox({"populi", "peers"});
  EXPECT_THAT(peers.out, HasSubstr("quarantined"));

  VoxRun off = serve_->Vox({"populi", "admin", "quarantine", "quiet-box", "--off"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_THAT(off.out, HasSubstr("node quiet-box: not quarantined"));
  EXPECT_EQ(NodeRecord(serve_->url(), "quiet-box").at("quarantined"), false);
}

TEST_F(TaskVerbsTest, RevokeTakesAnIdOrAUniquePrefixAndReportsTheServersError) {
  const std::string id = GrantLease("task:demo-revoke");
  VoxRun revoked = serve_->Vox({"populi", "admin", "exec-lease-revoke", id.substr(0, 8), "--json"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  json::value lease = Parse(revoked.out);
  EXPECT_EQ(lease.at("lease_id"), id.c_str());
  EXPECT_EQ(lease.at("state"), "revoked");
  VoxRun live = serve_->Vox({"populi", "leases", "--json"});
  EXPECT_THAT(live.out, Not(HasSubstr(id)));
  VoxRun history = serve_->Vox({"populi", "leases", "--all"});
  EXPECT_THAT(history.out, MatchesRegex("(.|\n)*" + id.substr(0, 8) + " .* revoked (.|\n)*"));

  // Revoking it again: the control plane refuses an ended lease.
  VoxRun again = serve_->Vox({"populi", "admin", "exec-lease-revoke", id});
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_THAT(again.err, StartsWith("error: "));

  const std::string unknown(32, 'e');
  VoxRun missing = serve_->Vox({"populi", "admin", "exec-lease-revoke", unknown});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("exec lease " + unknown + " does not exist"));
  EXPECT_THAT(missing.err, HasSubstr("hint: list leases with `vox populi leases`"));

  VoxRun no_prefix = serve_->Vox({"populi", "admin", "exec-lease-revoke", "ffffffff"});
  EXPECT_EQ(no_prefix.exit_code, 1) << no_prefix.err;
  EXPECT_THAT(no_prefix.err, HasSubstr("no live exec lease id starts with ffffffff"));

  const std::string text_id = GrantLease("task:demo-revoke-text");
  VoxRun text = serve_->Vox({"populi", "admin", "exec-lease-revoke", text_id});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, "lease " + text_id +
                          " revoked (scope task:demo-revoke-text, holder lease-box, token 1)\n");
}

// ---- with the task routes ----

class TaskRoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    serve_ = new ServeProcess(dir_->Sub("mesh"), /*worker=*/true);
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
    client::HttpClient http(serve_->url(), kAdminToken);
    auto reply = http.SendRaw("POST", "/v1/populi/tasks", "{}");
    if (!reply.ok() || reply->status != 404) return true;
    return client::HttpClient::StatusFromResponse(*reply, serve_->url())
               .message()
               .find("no route") == std::string::npos;
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
        client::HttpClient http(serve_->url(), kAdminToken);
        EXPECT_TRUE(http.Send("POST", "/v1/populi/tasks/" + id + "/cancel").ok());
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
