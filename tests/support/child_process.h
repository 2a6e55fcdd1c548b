// Test support shared by the tests that run programs other than `vox` (node scripts, Chromium
// through playwright-core): finding an executable on PATH, a child process whose output goes to
// files, and the environment a sanitized child needs. Header-only; tests/ is on the include path.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace populi::testing::support {

// The first executable `name` on $PATH, or "" when there is none.
inline std::string ExecutableOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// A minimal PATH plus the sanitizer options of this process, for a child's environment.
inline std::map<std::string, std::string> SanitizerVars() {
  std::map<std::string, std::string> vars{{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* v = std::getenv(name)) vars[name] = v;
  }
  return vars;
}

// A child process with stdout and stderr in files under `dir`, stdin from /dev/null, and killed
// with this process (PR_SET_PDEATHSIG). Stop() kills it; the destructor does not.
struct Child {
  pid_t pid = -1;
  std::string out_path, err_path;

  void Start(const std::string& bin, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& vars, const std::string& cwd,
             const std::string& dir) {
    std::filesystem::create_directories(dir);
    out_path = dir + "/stdout";
    err_path = dir + "/stderr";
    std::vector<std::string> argv_s{bin}, env_s;
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    for (const auto& [k, v] : vars) env_s.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int in = open("/dev/null", O_RDONLY);
      if (out < 0 || err < 0 || in < 0 || chdir(cwd.c_str()) != 0) _exit(126);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      dup2(in, STDIN_FILENO);
      execve(bin.c_str(), argv.data(), envp.data());
      _exit(127);
    }
  }
  // The exit code (128 + signal when killed by one); -2 when it ran past `deadline_s` and was
  // killed.
  int Wait(int deadline_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        Stop();
        return -2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void Stop() {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  std::string Out() const { return Slurp(out_path); }
  std::string Err() const { return Slurp(err_path); }

 private:
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

// This process's whole environment, for a child that should see what the test sees.
inline std::map<std::string, std::string> InheritedVars() {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return vars;
}

// Starts `bin args…` as `child` (environment inherited, output under `dir`) and waits up to
// `timeout_ms` for the line "listening on PORT" on its stdout, as the test engines print it
// (tests/e2e/fake_engine.mjs, tests/interop/llama_server.mjs). Its base URL
// "http://127.0.0.1:PORT", or "" when it exited or never printed the line (child.Err() says why).
inline std::string StartListening(Child& child, const std::string& bin,
                                  const std::vector<std::string>& args, const std::string& cwd,
                                  const std::string& dir, int timeout_ms = 60'000) {
  child.Start(bin, args, InheritedVars(), cwd, dir);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = child.Out();
    const size_t at = text.find("listening on ");
    const size_t end = at == std::string::npos ? at : text.find('\n', at);
    if (end != std::string::npos) return "http://127.0.0.1:" + text.substr(at + 13, end - at - 13);
    if (waitpid(child.pid, nullptr, WNOHANG) == child.pid) {
      child.pid = -1;
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

}  // namespace populi::testing::support
