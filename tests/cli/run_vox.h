// Runs the real `vox` binary ($VOX_BIN) as a child process with a controlled environment.
#pragma once

#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "config/test_files.h"

namespace populi::testing {

struct VoxRun {
  int exit_code = -1;
  std::string out, err;
};

struct VoxEnv {
  std::string cwd;
  std::map<std::string, std::string> vars;  // the whole environment, plus sanitizer options
};

inline std::string VoxBin() {
  const char* bin = std::getenv("VOX_BIN");
  return bin != nullptr ? bin : VOX_BIN_AT_BUILD;
}

namespace internal {

inline std::vector<std::string> EnvStrings(const VoxEnv& env) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env.vars) out.push_back(k + "=" + v);
  for (const char* pass : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "PATH"}) {
    const char* v = std::getenv(pass);
    if (v != nullptr && env.vars.count(pass) == 0) out.push_back(std::string(pass) + "=" + v);
  }
  return out;
}

// A vox command line made ready before fork(): the child of a multi-threaded test process may
// only make async-signal-safe calls until execve (another thread may have held the allocator's
// lock at the fork, and a malloc in the child would then wait forever), so everything that
// allocates happens here, in the parent.
class PreparedExec {
 public:
  PreparedExec(const VoxEnv& env, const std::vector<std::string>& args)
      : cwd_(env.cwd), bin_(VoxBin()), args_(args), env_(EnvStrings(env)) {
    argv_.push_back(bin_.data());
    for (auto& a : args_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    for (auto& e : env_) envp_.push_back(e.data());
    envp_.push_back(nullptr);
  }
  PreparedExec(const PreparedExec&) = delete;
  PreparedExec& operator=(const PreparedExec&) = delete;

  // In the child: chdir, execve. Never returns; allocates nothing.
  [[noreturn]] void Exec() const {
    if (!cwd_.empty() && chdir(cwd_.c_str()) != 0) _exit(126);
    execve(bin_.c_str(), argv_.data(), envp_.data());
    _exit(127);
  }

 private:
  std::string cwd_, bin_;
  std::vector<std::string> args_, env_;
  std::vector<char*> argv_, envp_;
};

inline int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace internal

// stdout and stderr go to files in `scratch` (no pipe deadlocks), read back after exit.
inline VoxRun RunVox(const VoxEnv& env, const std::vector<std::string>& args,
                     const std::string& scratch) {
  std::string out_path = scratch + "/vox.out", err_path = scratch + "/vox.err";
  const internal::PreparedExec exec(env, args);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    exec.Exec();
  }
  VoxRun run;
  run.exit_code = internal::WaitExit(pid);
  run.out = ReadFile(out_path);
  run.err = ReadFile(err_path);
  return run;
}

// Like RunVox, but stdout is a terminal (a pseudo-terminal), so colour rules apply.
inline VoxRun RunVoxOnTerminal(const VoxEnv& env, const std::vector<std::string>& args,
                               const std::string& scratch) {
  int master = -1, slave = -1;
  if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return {};
  std::string err_path = scratch + "/vox.err";
  const internal::PreparedExec exec(env, args);
  pid_t pid = fork();
  if (pid == 0) {
    close(master);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(slave, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    exec.Exec();
  }
  close(slave);
  VoxRun run;
  char buf[4096];
  while (true) {
    ssize_t n = read(master, buf, sizeof(buf));
    if (n <= 0) break;  // EIO once the child has exited and closed the terminal
    run.out.append(buf, static_cast<size_t>(n));
  }
  close(master);
  run.exit_code = internal::WaitExit(pid);
  run.err = ReadFile(err_path);
  return run;
}

}  // namespace populi::testing
