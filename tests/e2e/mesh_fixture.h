// Real multi-process meshes for end-to-end tests: a control plane (`vox populi serve`) and agents
// (`vox populi join`) as child processes on loopback, each with its own VOX_HOME, driven by
// signals (SIGKILL, SIGTERM, SIGSTOP/SIGCONT) and observed through the HTTP API
// (client::ControlPlaneApi).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/control_plane_api.h"
#include "mesh/types.h"
#include "util/random.h"

namespace populi::e2e {

namespace fs = std::filesystem;

inline std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A port nothing listens on right now (bound then released; fine on a quiet loopback).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Polls `pred` every 50 ms until it holds or `timeout_ms` passes. The timeouts are generous
// (a loaded 2-core machine running sanitizers); they bound a hang, they assert no speed.
inline bool WaitFor(const std::function<bool()>& pred, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// One vox child process; stdout and stderr go to files under `dir`.
class VoxProcess {
 public:
  VoxProcess() = default;
  VoxProcess(const VoxProcess&) = delete;
  VoxProcess& operator=(const VoxProcess&) = delete;
  ~VoxProcess() { Kill(SIGKILL); }

  void Start(const fs::path& dir, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env) {
    dir_ = dir;
    fs::create_directories(dir);
    const char* vox = std::getenv("VOX_BIN");
    ASSERT_NE(vox, nullptr) << "VOX_BIN is not set";
    std::vector<std::string> argv_s{vox};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s{"PATH=/usr/bin:/bin", "NO_COLOR=1"};
    for (const char* pass : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
      if (const char* v = std::getenv(pass)) env_s.push_back(std::string(pass) + "=" + v);
    }
    for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
    const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
    const std::string cwd = dir.string();
    // Everything the child needs is built before fork(): another thread of this process may hold
    // the allocator's lock at the fork, so the child allocates nothing before execve.
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& v : env_s) envp.push_back(v.data());
    envp.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      // A test that crashes leaves no mesh behind. (The signal follows the forking thread: every
      // fixture starts its processes from the test's own thread.)
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(o, 1);
      dup2(e, 2);
      if (chdir(cwd.c_str()) != 0) _exit(120);
      execve(vox, argv.data(), envp.data());
      _exit(127);
    }
  }

  // Waits until stdout holds a line containing `needle`; returns that line ("" on timeout or
  // when the process exits first).
  std::string WaitForLine(const std::string& needle, int timeout_ms = 60'000) {
    std::string found;
    WaitFor(
        [&] {
          if (Exited()) return true;
          std::stringstream s(Stdout());
          std::string line;
          while (std::getline(s, line)) {
            if (line.find(needle) != std::string::npos) {
              found = line;
              return true;
            }
          }
          return false;
        },
        timeout_ms);
    return found;
  }

  std::string Stdout() const { return Slurp(dir_ / "stdout"); }
  std::string Stderr() const { return Slurp(dir_ / "stderr"); }
  bool running() const { return pid_ > 0; }
  // True (and reaped) when the process has exited.
  bool Exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }
  pid_t pid() const { return pid_; }

  void Signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Signals and reaps; returns the exit code or 128 + signal (-1 if not running).
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGCONT);  // a stopped process must be able to die
    ::kill(pid_, sig);
    return Reap();
  }
  int Reap() {
    if (pid_ <= 0) return -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
};

// A control plane plus agents, each in its own directory under a temp root.
class MeshFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("populi-e2e-" + RandomHex(6));
    fs::create_directories(root_);
  }
  void TearDown() override {
    for (auto& a : agents_) a->Kill(SIGKILL);
    control_.Kill(SIGKILL);
    if (!HasFailure() && std::getenv("POPULI_KEEP_E2E") == nullptr) fs::remove_all(root_);
  }

  // Settings every process gets (short intervals for tests).
  std::map<std::string, std::string> BaseEnv(const std::string& home) const {
    std::map<std::string, std::string> env{
        {"VOX_HOME", home},
        {"VOX_MESH_CONTROL_HEARTBEAT_SECS", "1"},
        {"VOX_MESH_CONTROL_SUSPECT_AFTER", "2"},
        {"VOX_MESH_CONTROL_DOWN_AFTER", "4"},
        {"VOX_MESH_PROBE_ORDER", "mock"},
    };
    for (const auto& [k, v] : extra_env_) env[k] = v;
    return env;
  }

  // Starts (or restarts, same data dir and port) the control plane without a local worker.
  void StartControl() {
    if (port_ == 0) port_ = FreePort();
    auto env = BaseEnv((root_ / "cp-home").string());
    env["VOX_MESH_PROBE_MOCK_FIXTURE"] = WriteFixture("cp", 0);
    control_.Start(root_ / "cp",
                   {"populi", "serve", "--bind", "127.0.0.1:" + std::to_string(port_), "--data-dir",
                    (root_ / "cp-data").string(), "--no-worker"},
                   env);
    ASSERT_NE(control_.WaitForLine("listening on"), "") << control_.Stderr();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // A mock inventory: `gpus` devices of `vram_gib` GiB each.
  std::string WriteFixture(const std::string& name, int gpus, int vram_gib = 80) {
    boost::json::array devices;
    for (int i = 0; i < gpus; ++i) {
      const uint64_t total = static_cast<uint64_t>(vram_gib) << 30;
      devices.push_back(
          boost::json::object{{"uuid", "GPU-" + name + "-" + std::to_string(i)},
                              {"name", "Test GPU " + std::to_string(vram_gib) + "GB"},
                              {"vendor", "nvidia"},
                              {"pci_bus_id", "0000:0" + std::to_string(i + 1) + ":00.0"},
                              {"memory_total_bytes", total},
                              {"memory_used_bytes", 0},
                              {"memory_free_bytes", total}});
    }
    boost::json::object fixture{
        {"cpu", boost::json::object{{"model", "Test CPU"},
                                    {"cores", 8},
                                    {"threads", 16},
                                    {"numa_nodes", 1},
                                    {"memory_total_bytes", uint64_t{32} << 30},
                                    {"memory_available_bytes", uint64_t{30} << 30}}},
        {"gpus", devices}};
    const fs::path path = root_ / ("fixture-" + name + ".json");
    std::ofstream(path) << boost::json::serialize(fixture);
    return path.string();
  }

  // Starts an agent (`vox populi join`) with its own home; returns its node id.
  std::string StartAgent(size_t index, int gpus = 0, int vram_gib = 80) {
    while (agents_.size() <= index) agents_.push_back(std::make_unique<VoxProcess>());
    const std::string name = "agent" + std::to_string(index);
    auto env = BaseEnv((root_ / (name + "-home")).string());
    env["VOX_MESH_PROBE_MOCK_FIXTURE"] = WriteFixture(name, gpus, vram_gib);
    agents_[index]->Start(root_ / name, {"populi", "join", url()}, env);
    const std::string line = agents_[index]->WaitForLine("running against");
    EXPECT_NE(line, "") << agents_[index]->Stderr();
    // "node <id> running against <url>"
    std::stringstream s(line);
    std::string word, id;
    s >> word >> id;
    return id;
  }
  VoxProcess& agent(size_t index) { return *agents_.at(index); }

  // The control plane's API (anonymous: the test mesh has no tokens). One per call site, so
  // helpers may run from any thread.
  client::ControlPlaneApi Api() const { return client::ControlPlaneApi(url()); }
  // node id → state ("alive", "suspect", "down"); absent when not registered.
  std::map<std::string, std::string> NodeStates() const {
    std::map<std::string, std::string> out;
    auto nodes = Api().Nodes();
    if (!nodes.ok()) return out;
    for (const mesh::NodeRecord& n : nodes->nodes) out[n.id] = std::string(mesh::ToString(n.state));
    return out;
  }
  // Every event so far, oldest first.
  std::vector<mesh::Event> Events() const {
    std::vector<mesh::Event> out;
    client::ControlPlaneApi api = Api();
    int64_t after = 0;
    for (;;) {
      auto page = api.Events(after, 1000);
      if (!page.ok() || page->events.empty()) break;
      out.insert(out.end(), page->events.begin(), page->events.end());
      after = page->next_after;
    }
    return out;
  }
  // Kinds of the events about `subject`, in order.
  std::vector<std::string> EventKinds(const std::string& subject) const {
    std::vector<std::string> kinds;
    for (const mesh::Event& e : Events()) {
      if (e.subject == subject) kinds.push_back(e.kind);
    }
    return kinds;
  }

  fs::path root_;
  int port_ = 0;
  VoxProcess control_;
  std::vector<std::unique_ptr<VoxProcess>> agents_;
  std::map<std::string, std::string> extra_env_;
};

}  // namespace populi::e2e
