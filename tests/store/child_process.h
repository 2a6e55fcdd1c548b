// A child process started with a pipe on its stdout, for the crash and lock tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace populi::store::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`; its stdout goes to a pipe read by ReadLines().
  explicit ChildProcess(const std::vector<std::string>& argv) {
    int out[2];
    int in[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) return;
    // Built before fork(): the child allocates nothing before exec.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(in[0], STDIN_FILENO);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(in[0]);
    stdout_fd_ = out[0];
    stdin_fd_ = in[1];
  }
  ~ChildProcess() {
    Kill();
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }

  pid_t pid() const { return pid_; }

  // Reads complete lines for up to `timeout_ms` in all, or until `until_lines` lines or EOF.
  // Returns false on EOF.
  bool ReadLines(std::vector<std::string>& lines, int timeout_ms, size_t until_lines = SIZE_MAX) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (lines.size() < until_lines) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return true;
      pollfd p{stdout_fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready <= 0) return true;
      char buffer[4096];
      const ssize_t n = ::read(stdout_fd_, buffer, sizeof(buffer));
      if (n <= 0) return false;
      partial_.append(buffer, static_cast<size_t>(n));
      size_t newline;
      while ((newline = partial_.find('\n')) != std::string::npos) {
        lines.push_back(partial_.substr(0, newline));
        partial_.erase(0, newline + 1);
      }
    }
    return true;
  }

  // SIGKILL and reap. Lines the child wrote before dying stay readable until EOF.
  int Kill() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stdin_fd_ = -1;
  std::string partial_;
};

}  // namespace populi::store::testing
