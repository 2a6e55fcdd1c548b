// Durable deliver -> claim -> ack cycles through the MeshStore API.
//
//   store_bench [--dir DIR] [--seconds S] [--writers 1,8,64]
//
// For each writer count it runs every combination of {group commit, one transaction per write}
// x {full, buffered}: each writer thread loops Write(deliver) -> Write(claim) -> Write(ack) on its
// own receiver, so one cycle is three durable commits from the caller's view. It reports cycles
// per second and the latency of the deliver Write (p50 / p99), then the raw fdatasync rate of a
// 4 KiB append in the same directory (the physical limit on commits per second). DIR must be on
// the disk under test (not tmpfs); default: ./store-bench-data.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace {

using populi::Status;
using populi::store::Durability;
using populi::store::WriteTxn;
using Clock = std::chrono::steady_clock;

struct RunResult {
  double cycles_per_sec = 0;
  double p50_us = 0;
  double p99_us = 0;
  int64_t errors = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
  return v[k];
}

RunResult RunCycles(const std::string& dir, int writers, bool group_commit, Durability durability,
                    double seconds) {
  std::filesystem::remove_all(dir);
  populi::store::SqliteOptions options;
  options.directory = dir;
  options.durability = durability;
  options.max_batch = group_commit ? 1024 : 1;
  auto opened = populi::store::OpenSqliteStore(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  auto& store = **opened;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> cycles{0};
  std::atomic<int64_t> errors{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(writers));
  std::vector<std::thread> threads;
  const std::string payload(256, 'p');
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      const std::string receiver = "r" + std::to_string(t);
      const std::string claimer = "n" + std::to_string(t);
      populi::mesh::NewMessage m;
      m.sender = "bench";
      m.receiver = receiver;
      m.message_type = "job_submit";
      m.payload = payload;
      int64_t now = 1;
      for (int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i, ++now) {
        m.idempotency_key = std::to_string(t) + ":" + std::to_string(i);
        const auto start = Clock::now();
        Status s = store.Write([&](WriteTxn& txn) { return txn.Deliver(m, now).status(); });
        latencies[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        std::vector<int64_t> claimed;
        if (s.ok()) {
          s = store.Write([&](WriteTxn& txn) -> Status {
            populi::store::ClaimRequest req{receiver, claimer, 1, 60'000, now, 10, nullptr};
            POPULI_ASSIGN_OR_RETURN(auto got, txn.Claim(req));
            for (const auto& g : got) claimed.push_back(g.id);
            return Status::Ok();
          });
        }
        if (s.ok()) {
          s = store.Write([&](WriteTxn& txn) { return txn.Ack(receiver, claimed, now).status(); });
        }
        if (s.ok() && claimed.size() == 1) {
          cycles.fetch_add(1, std::memory_order_relaxed);
        } else {
          errors.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  const auto begin = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  (void)store.Close();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  RunResult r;
  r.cycles_per_sec = static_cast<double>(cycles.load()) / elapsed;
  r.p50_us = Percentile(all, 0.50);
  r.p99_us = Percentile(all, 0.99);
  r.errors = errors.load();
  return r;
}

double FdatasyncRate(const std::string& dir, double seconds) {
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/fdatasync.probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  char block[4096];
  std::memset(block, 'x', sizeof(block));
  int64_t n = 0;
  const auto begin = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    if (::write(fd, block, sizeof(block)) != static_cast<ssize_t>(sizeof(block))) break;
    if (::fdatasync(fd) != 0) break;
    ++n;
    elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  }
  ::close(fd);
  std::filesystem::remove(path);
  return static_cast<double>(n) / elapsed;
}

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t comma = s.find(',', pos);
    out.push_back(std::stoi(s.substr(pos, comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "store-bench-data";
  double seconds = 3;
  std::vector<int> writer_counts = {1, 8, 64};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--seconds") {
      seconds = std::stod(argv[i + 1]);
    } else if (flag == "--writers") {
      writer_counts = ParseList(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: store_bench [--dir DIR] [--seconds S] [--writers 1,8,64]\n");
      return 2;
    }
  }
  std::printf(
      "| writers | commit | durability | cycles/s | deliver p50 (us) | deliver p99 (us) |\n");
  std::printf("|---:|---|---|---:|---:|---:|\n");
  for (int writers : writer_counts) {
    double group_full = 0;
    double single_full = 0;
    for (Durability durability : {Durability::kFull, Durability::kBuffered}) {
      for (bool group : {true, false}) {
        RunResult r = RunCycles(dir + "/store", writers, group, durability, seconds);
        if (durability == Durability::kFull) (group ? group_full : single_full) = r.cycles_per_sec;
        std::printf(
            "| %d | %s | %s | %.0f | %.0f | %.0f |%s\n", writers, group ? "group" : "one txn/write",
            durability == Durability::kFull ? "full" : "buffered", r.cycles_per_sec, r.p50_us,
            r.p99_us, r.errors > 0 ? (" errors: " + std::to_string(r.errors)).c_str() : "");
        std::fflush(stdout);
      }
    }
    std::printf("| %d | group / one txn (full) | | **%.1fx** | | |\n", writers,
                single_full > 0 ? group_full / single_full : 0.0);
  }
  std::printf("\nraw fdatasync (4 KiB append) in %s: %.0f /s\n", dir.c_str(),
              FdatasyncRate(dir, seconds));
  std::filesystem::remove_all(dir);
  return 0;
}
