// A real `vox populi serve` for CLI tests, and vox runs with a deadline. Shared by the verb tests
// that need a control plane (views, task verbs).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

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
#include "config/test_files.h"

namespace populi::testing {

// A vox run that has not exited by then is killed and reported as exit code -2, so a verb that
// never returns fails its test instead of hanging the binary.
inline constexpr int kVoxDeadlineSecs = 30;

// RunVox with a deadline: stdout and stderr to files, read back after exit; standard input from
// `stdin_path` (/dev/null unless given).
inline VoxRun RunVoxWithin(const VoxEnv& env, const std::vector<std::string>& args,
                           const std::string& scratch,
                           const std::string& stdin_path = "/dev/null") {
  const std::string out_path = scratch + "/vox.out", err_path = scratch + "/vox.err";
  const internal::PreparedExec exec(env, args);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    const int in = open(stdin_path.c_str(), O_RDONLY);
    dup2(in, STDIN_FILENO);
    exec.Exec();
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
inline VoxRun RunVoxWithStderrOnTerminal(
    const VoxEnv& env, const std::vector<std::string>& args, const std::string& scratch,
    const std::function<void(const std::string&)>& on_terminal) {
  int master = -1, slave = -1;
  if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return {};
  const std::string out_path = scratch + "/vox.out";
  const internal::PreparedExec exec(env, args);
  const pid_t pid = fork();
  if (pid == 0) {
    close(master);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(slave, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    exec.Exec();
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

// `text` as JSON (a test failure and null when it is not).
inline boost::json::value Parse(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  return ec ? boost::json::value() : v;
}

inline  // The string value of `v`, or "" when it is not a string.
    std::string
    Str(const boost::json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

struct ServeOptions {
  bool worker = false;                     // run the local agent too (no --no-worker)
  std::string extra_config;                // appended to the user config after the token lines
  std::map<std::string, std::string> env;  // extra environment for serve and every vox run
  std::string bind = "127.0.0.1:0";        // a fixed port lets a restarted serve keep its URL
};

// A `vox populi serve` in its own VOX_HOME under `root`, with `admin_token` as both the admin
// token and this machine's mesh token in the user config (mode 0600).
class ServeProcess {
 public:
  ServeProcess(const std::string& root, const std::string& admin_token, ServeOptions options = {})
      : root_(root), worker_(options.worker), bind_(options.bind) {
    std::filesystem::create_directories(root_ + "/ws");
    std::filesystem::create_directories(root_ + "/scratch");
    std::filesystem::create_directories(root_ + "/home");
    WriteFile(root_ + "/home/config.toml",
              "[mesh]\ntoken = \"" + admin_token + "\"\n[mesh.auth]\nadmin_token = \"" +
                  admin_token + "\"\n" + options.extra_config,
              0600);
    env_.cwd = root_ + "/ws";
    env_.vars["HOME"] = root_ + "/user";
    env_.vars["VOX_HOME"] = root_ + "/home";
    for (const auto& [k, v] : options.env) env_.vars[k] = v;
  }
  ~ServeProcess() { Stop(); }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Starts serve and waits for its `listening on URL` line. False when it did not come.
  bool Start() {
    int out[2];
    if (pipe(out) != 0) return false;
    std::vector<std::string> args = {"populi", "serve", "--bind", bind_};
    if (!worker_) args.push_back("--no-worker");
    const internal::PreparedExec exec(env_, args);
    const std::string log_path = root_ + "/serve.log";
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no serve behind
      close(out[0]);
      dup2(out[1], STDOUT_FILENO);
      const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, STDERR_FILENO);
      exec.Exec();
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

  // SIGTERM (a graceful stop: serve removes its control-url file) and wait, or SIGKILL when
  // `graceful` is false.
  // A failed test gets the tail of serve's log in its output, so a serve that died is explained.
  void Stop(bool graceful = true) {
    if (pid_ <= 0) return;
    int early_status = 0;
    const bool died_early = waitpid(pid_, &early_status, WNOHANG) == pid_;
    if (!died_early) {
      kill(pid_, graceful ? SIGTERM : SIGKILL);
      internal::WaitExit(pid_);
    }
    pid_ = -1;
    if (died_early || ::testing::UnitTest::GetInstance()->failed_test_count() > 0) {
      std::string log = ReadFile(root_ + "/serve.log");
      if (log.size() > 8000) log = "...\n" + log.substr(log.size() - 8000);
      std::cerr << "---- serve.log"
                << (died_early ? " (serve ended before the test stopped it: status " +
                                     std::to_string(early_status) + ")"
                               : std::string())
                << " ----\n"
                << log << "---- end of serve.log ----\n";
    }
  }

  // vox with this serve's environment (plus `vars`), killed at the deadline (exit code -2).
  VoxRun Vox(const std::vector<std::string>& args,
             const std::map<std::string, std::string>& vars = {}) const {
    return RunVoxWithin(Env(vars), args, root_ + "/scratch");
  }
  // vox with stdout on a pseudo-terminal.
  VoxRun VoxOnTerminal(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& vars = {}) const {
    return RunVoxOnTerminal(Env(vars), args, root_ + "/scratch");
  }
  // vox with stderr on a pseudo-terminal (see RunVoxWithStderrOnTerminal).
  VoxRun VoxWithStderrOnTerminal(const std::vector<std::string>& args,
                                 const std::function<void(const std::string&)>& on_terminal) const {
    return RunVoxWithStderrOnTerminal(env_, args, root_ + "/scratch", on_terminal);
  }

  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  const std::string& root() const { return root_; }

 private:
  VoxEnv Env(const std::map<std::string, std::string>& vars) const {
    VoxEnv env = env_;
    for (const auto& [k, v] : vars) env.vars[k] = v;
    return env;
  }

  std::string root_;
  bool worker_;
  std::string bind_;
  VoxEnv env_;
  pid_t pid_ = -1;
  std::string url_;
};

}  // namespace populi::testing
