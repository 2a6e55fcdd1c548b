// heartbeat_load: a control plane (`vox populi serve --no-worker`, its own process) under the
// heartbeats of many simulated nodes, plus the resident memory of one real idle agent.
//
//   heartbeat_load --vox PATH [--nodes 2000] [--interval-ms 2000] [--seconds 20] [--threads 16]
//
// Each simulated node joins once, then heartbeats every interval at its own phase; `threads`
// keep-alive connections carry them. Prints the achieved heartbeat rate, latency percentiles,
// the control plane's CPU use over the measured window (utime + stime from /proc, % of one
// core), and the VmRSS of a `vox populi join` agent after it has been idle for a few seconds.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_conn.h"

namespace {

using populi::bench::Conn;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

pid_t Spawn(const std::string& vox, const std::vector<std::string>& args,
            const std::vector<std::string>& env, const std::string& out_path) {
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null = open("/dev/null", O_WRONLY);
    dup2(out, 1);
    dup2(null, 2);
    std::vector<std::string> argv_s{vox};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s = env;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(vox.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

bool WaitForText(const std::string& path, const std::string& text, int timeout_ms) {
  const auto end = Steady::now() + std::chrono::milliseconds(timeout_ms);
  while (Steady::now() < end) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    if (s.str().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// utime + stime of `pid` in clock ticks.
long long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close_paren = stat.rfind(')');
  std::istringstream rest(stat.substr(close_paren + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) {
      stime = std::stoll(field);
      break;
    }
  }
  return utime + stime;
}

std::string VmRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return line.substr(6);
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  std::string vox;
  int nodes = 2000, interval_ms = 2000, seconds = 20, threads = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--vox") vox = argv[i + 1];
    if (k == "--nodes") nodes = std::atoi(argv[i + 1]);
    if (k == "--interval-ms") interval_ms = std::atoi(argv[i + 1]);
    if (k == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (k == "--threads") threads = std::atoi(argv[i + 1]);
  }
  if (vox.empty()) {
    std::fprintf(stderr, "usage: heartbeat_load --vox PATH [--nodes N] [--interval-ms MS] ...\n");
    return 2;
  }
  const fs::path dir = fs::temp_directory_path() / ("hb-load-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const int port = FreePort();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::vector<std::string> env{
      "VOX_HOME=" + (dir / "cp").string(),
      "PATH=/usr/bin:/bin",
      "NO_COLOR=1",
      "VOX_MESH_CONTROL_HTTP_RATE_PER_SEC=1000000",
      "VOX_MESH_CONTROL_HTTP_RATE_BURST=1000000",
      "VOX_MESH_CONTROL_HEARTBEAT_SECS=" + std::to_string(std::max(1, interval_ms / 1000))};
  const pid_t cp =
      Spawn(vox, {"populi", "serve", "--no-worker", "--bind", "127.0.0.1:" + std::to_string(port)},
            env, (dir / "cp.out").string());
  if (!WaitForText((dir / "cp.out").string(), "listening on", 60'000)) {
    std::fprintf(stderr, "control plane did not start\n");
    kill(cp, SIGKILL);
    return 1;
  }

  // Join every simulated node first.
  {
    std::vector<std::thread> joiners;
    for (int t = 0; t < threads; ++t) {
      joiners.emplace_back([&, t] {
        Conn conn(port);
        for (int n = t; n < nodes; n += threads)
          conn.Post("/v1/populi/join", "{\"id\":\"sim-" + std::to_string(n) +
                                           "\",\"cpu\":{\"cores\":8,\"threads\":16}}");
      });
    }
    for (auto& j : joiners) j.join();
  }

  std::atomic<bool> stop{false};
  std::atomic<long long> sent{0}, errors{0};
  std::mutex mu;
  std::vector<double> latency_us;
  std::vector<std::thread> workers;
  const auto t0 = Steady::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Conn conn(port);
      std::vector<int> mine;
      for (int n = t; n < nodes; n += threads) mine.push_back(n);
      std::vector<double> local;
      // Node k of this thread beats at phase k * interval / |mine| within each interval.
      for (long long round = 0; !stop; ++round) {
        for (size_t k = 0; k < mine.size() && !stop; ++k) {
          const auto due = t0 + std::chrono::milliseconds(round * interval_ms) +
                           std::chrono::microseconds(static_cast<long long>(k) * interval_ms *
                                                     1000 / static_cast<long long>(mine.size()));
          std::this_thread::sleep_until(due);
          const auto s = Steady::now();
          const int status = conn.Post("/v1/populi/heartbeat",
                                       "{\"node_id\":\"sim-" + std::to_string(mine[k]) + "\"}");
          local.push_back(std::chrono::duration<double, std::micro>(Steady::now() - s).count());
          ++sent;
          if (status != 200) ++errors;
        }
      }
      std::lock_guard lock(mu);
      latency_us.insert(latency_us.end(), local.begin(), local.end());
    });
  }
  // Measure after one warm-up interval.
  std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  const long long ticks0 = CpuTicks(cp);
  const long long sent0 = sent;
  const auto m0 = Steady::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const long long ticks1 = CpuTicks(cp);
  const long long sent1 = sent;
  const double secs = std::chrono::duration<double>(Steady::now() - m0).count();
  stop = true;
  for (auto& w : workers) w.join();

  // One real agent, idle.
  const std::vector<std::string> agent_env{"VOX_HOME=" + (dir / "agent").string(),
                                           "PATH=/usr/bin:/bin", "NO_COLOR=1"};
  const pid_t agent = Spawn(vox, {"populi", "join", url}, agent_env, (dir / "agent.out").string());
  WaitForText((dir / "agent.out").string(), "running against", 30'000);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const std::string rss = VmRss(agent);
  kill(agent, SIGTERM);
  waitpid(agent, nullptr, 0);
  kill(cp, SIGTERM);
  waitpid(cp, nullptr, 0);
  fs::remove_all(dir);

  std::sort(latency_us.begin(), latency_us.end());
  auto pct = [&](double p) {
    return latency_us.empty() ? 0.0
                              : latency_us[static_cast<size_t>(p * (latency_us.size() - 1))] / 1000;
  };
  const double cpu_pct = 100.0 * static_cast<double>(ticks1 - ticks0) /
                         static_cast<double>(sysconf(_SC_CLK_TCK)) / secs;
  std::printf(
      "nodes=%d interval_ms=%d threads=%d seconds=%.1f heartbeats_per_s=%.0f errors=%lld "
      "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f control_plane_cpu_pct=%.1f idle_agent_rss=%s\n",
      nodes, interval_ms, threads, secs, static_cast<double>(sent1 - sent0) / secs, errors.load(),
      pct(0.50), pct(0.99), pct(1.0), cpu_pct, rss.c_str());
  return 0;
}
