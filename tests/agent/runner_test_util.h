// Helpers for the exec runner tests: temporary directories, an output collector and checks on
// processes by pid.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/runners/exec_runner.h"

namespace populi::runners::testing {

// A directory under /tmp removed (whatever is left in it) when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/populi-runner-test-XXXXXX";
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }
  // Entries directly inside the directory.
  std::vector<std::string> List() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path_, ec)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }

 private:
  std::string path_;
};

// Collects what the runner streams; tests wait on it for a marker to appear.
class Collector {
 public:
  OutputFn Fn() {
    return [this](OutputStream stream, std::string_view chunk) {
      std::lock_guard<std::mutex> lock(mu_);
      (stream == OutputStream::kStdout ? out_ : err_).append(chunk);
      cv_.notify_all();
    };
  }
  std::string out() {
    std::lock_guard<std::mutex> lock(mu_);
    return out_;
  }
  std::string err() {
    std::lock_guard<std::mutex> lock(mu_);
    return err_;
  }
  // Waits (up to a generous bound) until stdout holds `lines` complete lines.
  std::vector<std::string> WaitForLines(size_t lines) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      return static_cast<size_t>(std::count(out_.begin(), out_.end(), '\n')) >= lines;
    });
    std::vector<std::string> out;
    std::istringstream in(out_);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
  std::string err_;
};

inline ExecPolicy OpenPolicy() {
  ExecPolicy policy;
  policy.mode = ExecMode::kOpen;
  return policy;
}

inline RunSpec Shell(const std::string& script, const std::string& scratch_root) {
  RunSpec spec;
  spec.task_id = "t-1";
  spec.command = "sh";
  spec.args = {"-c", script};
  spec.scratch_root = scratch_root;
  return spec;
}

// Starts and waits; fails the test when Start refuses.
inline RunResult RunToEnd(const RunSpec& spec, const ExecPolicy& policy = OpenPolicy(),
                          Collector* collector = nullptr) {
  auto run = ExecRun::Start(spec, policy, collector != nullptr ? collector->Fn() : nullptr);
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  if (!run.ok()) return {};
  return (*run)->Wait();
}

// True once `pid` no longer runs: gone from /proc, or a zombie nobody has reaped yet. Waits up
// to a generous bound for the signal to land (the result, not the time taken, is the check).
inline bool ProcessEnds(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!stat || !std::getline(stat, text)) return true;
    const size_t paren = text.rfind(')');
    if (paren != std::string::npos && paren + 2 < text.size()) {
      const char state = text[paren + 2];
      if (state == 'Z' || state == 'X') return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace populi::runners::testing
