// Durable deliver -> claim -> ack cycles through the MeshStore API.
//
//   store_bench [--dir DIR] [--seconds S] [--writers 1,8,64] [--mode threads|async|both]
//                [--queue own|shared] [--ack request|next]
//
// For each writer count it runs {group commit with the flush overlapped, group commit flushing in
// each COMMIT, one transaction per write} x {full, buffered}: each writer loops deliver -> claim ->
// ack on its own receiver, so one cycle is three durable commits from the caller's view. Two kinds
// of writer: an OS thread per writer blocking in Write() (`threads`), and a writer as a chain of
// SubmitWrite() completions resumed on a two-thread pool (`async`), which is how the control
// plane's coroutines use the store. It reports cycles per second and the latency of the deliver
// Write (p50 / p99), then the raw fdatasync rate of a 4 KiB append in the same directory (the
// physical limit on commits per second). DIR must be on the disk under test (not tmpfs); default:
// ./store-bench-data.
//
// --ack next (async writers only): the claim write first acknowledges the message the previous
// claim took — the loop a worker runs with `ack_message_ids` over HTTP — so one cycle is two
// commits; a cycle is counted when its acknowledgement commits.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite.h"

namespace {

using populi::Status;
using populi::store::Durability;
using populi::store::WriteTxn;
using Clock = std::chrono::steady_clock;

// --queue shared: every writer delivers to and claims from one receiver (one work queue with 64
// producers and consumers); default: each writer has its own receiver (64 node inboxes).
bool g_shared_queue = false;
// --ack next: acknowledge in the next claim's write instead of a write of its own.
bool g_ack_next = false;

// How writes reach the disk: group commit with the log flush overlapping the next batch (the
// default), group commit flushing inside each COMMIT, or one transaction (and flush) per write.
enum class Commit { kGroupOverlapped, kGroupInline, kSingle };

const char* CommitName(Commit c) {
  switch (c) {
    case Commit::kGroupOverlapped:
      return "group, flush overlapped";
    case Commit::kGroupInline:
      return "group, flush in commit";
    case Commit::kSingle:
      return "one txn/write";
  }
  return "?";
}

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

// A new store in `dir` (anything there is removed first) configured for `commit`.
std::unique_ptr<populi::store::MeshStore> OpenFreshStore(const std::string& dir, Commit commit,
                                                         Durability durability) {
  std::filesystem::remove_all(dir);
  populi::store::SqliteOptions options;
  options.directory = dir;
  options.durability = durability;
  options.max_batch = commit == Commit::kSingle ? 1 : 1024;
  options.overlap_flush = commit == Commit::kGroupOverlapped;
  auto opened = populi::store::OpenSqliteStore(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(opened).value();
}

RunResult RunCycles(const std::string& dir, int writers, Commit commit, Durability durability,
                    double seconds) {
  auto opened = OpenFreshStore(dir, commit, durability);
  auto& store = *opened;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> cycles{0};
  std::atomic<int64_t> errors{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(writers));
  std::vector<std::thread> threads;
  const std::string payload(256, 'p');
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      const std::string receiver = g_shared_queue ? "q" : "r" + std::to_string(t);
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
        std::string token;  // the claim's token, which the ack presents
        if (s.ok()) {
          s = store.Write([&](WriteTxn& txn) -> Status {
            populi::store::ClaimRequest req{receiver, claimer, 1, 60'000, now, 10, nullptr};
            POPULI_ASSIGN_OR_RETURN(auto got, txn.Claim(req));
            for (const auto& g : got) claimed.push_back(g.id);
            if (!got.empty()) token = got.front().claim_token;
            return Status::Ok();
          });
        }
        if (s.ok()) {
          s = store.Write(
              [&](WriteTxn& txn) { return txn.Ack(receiver, claimed, token, now).status(); });
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

// A small pool that runs completions off the store's writer thread, the way the HTTP server's
// io threads resume coroutines.
class CallbackPool {
 public:
  explicit CallbackPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~CallbackPool() {
    {
      std::lock_guard<std::mutex> guard(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> guard(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> guard(mu_);
        cv_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// One logical writer: deliver -> claim -> ack as a chain of completions, never blocking a thread.
struct AsyncWriter {
  populi::store::MeshStore* store = nullptr;
  CallbackPool* pool = nullptr;
  std::atomic<bool>* stop = nullptr;
  std::atomic<int64_t>* cycles = nullptr;
  std::atomic<int64_t>* errors = nullptr;
  std::atomic<int>* running = nullptr;
  std::string receiver;
  std::string claimer;
  populi::mesh::NewMessage message;
  std::vector<int64_t> claimed;
  std::string token;  // the claim_token of `claimed`
  std::vector<double> latencies;
  int64_t i = 0;
  Clock::time_point started;

  void Finish(bool ok) {
    (ok ? *cycles : *errors).fetch_add(1, std::memory_order_relaxed);
    if (stop->load(std::memory_order_relaxed)) {
      running->fetch_sub(1);
      return;
    }
    Deliver();
  }
  // Continue on the pool; the store calls `done` on its writer thread.
  void Then(populi::store::WriteFn fn, std::function<void(Status)> next) {
    store->SubmitWrite(std::move(fn), [this, next = std::move(next)](Status s) {
      pool->Post([next, s = std::move(s)]() mutable { next(std::move(s)); });
    });
  }
  void Deliver() {
    ++i;
    message.idempotency_key = claimer + ":" + std::to_string(i);
    started = Clock::now();
    Then([this](WriteTxn& txn) { return txn.Deliver(message, i).status(); },
         [this](Status s) {
           latencies.push_back(
               std::chrono::duration<double, std::micro>(Clock::now() - started).count());
           if (!s.ok()) return Finish(false);
           Claim();
         });
  }
  void Claim() {
    if (g_ack_next) return ClaimAndAckHeld();
    claimed.clear();
    Then(
        [this](WriteTxn& txn) -> Status {
          populi::store::ClaimRequest req{receiver, claimer, 1, 60'000, i, 10, nullptr};
          POPULI_ASSIGN_OR_RETURN(auto got, txn.Claim(req));
          for (const auto& g : got) claimed.push_back(g.id);
          if (!got.empty()) token = got.front().claim_token;
          return Status::Ok();
        },
        [this](Status s) {
          if (!s.ok() || claimed.size() != 1) return Finish(false);
          Ack();
        });
  }
  void Ack() {
    Then([this](WriteTxn& txn) { return txn.Ack(receiver, claimed, token, i).status(); },
         [this](Status s) { Finish(s.ok()); });
  }
  // One write: acknowledge what the previous claim took, then claim the next message.
  void ClaimAndAckHeld() {
    Then(
        [this](WriteTxn& txn) -> Status {
          acked = 0;
          if (!claimed.empty()) {
            POPULI_ASSIGN_OR_RETURN(auto done, txn.Ack(receiver, claimed, token, i));
            acked = static_cast<int64_t>(done.size());
          }
          populi::store::ClaimRequest req{receiver, claimer, 1, 60'000, i, 10, nullptr};
          POPULI_ASSIGN_OR_RETURN(auto got, txn.Claim(req));
          claimed.clear();
          for (const auto& g : got) claimed.push_back(g.id);
          token = got.empty() ? std::string() : got.front().claim_token;
          return Status::Ok();
        },
        [this](Status s) {
          if (!s.ok() || claimed.size() != 1) {
            errors->fetch_add(1, std::memory_order_relaxed);
          }
          cycles->fetch_add(acked, std::memory_order_relaxed);
          if (stop->load(std::memory_order_relaxed)) {
            running->fetch_sub(1);
            return;
          }
          Deliver();
        });
  }
  int64_t acked = 0;  // by the last ClaimAndAckHeld
};

RunResult RunAsyncCycles(const std::string& dir, int writers, Commit commit, Durability durability,
                         double seconds) {
  auto opened = OpenFreshStore(dir, commit, durability);
  auto& store = *opened;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> cycles{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int> running{writers};
  RunResult r;
  {
    CallbackPool pool(2);
    std::vector<std::unique_ptr<AsyncWriter>> all;
    const std::string payload(256, 'p');
    for (int t = 0; t < writers; ++t) {
      auto w = std::make_unique<AsyncWriter>();
      w->store = &store;
      w->pool = &pool;
      w->stop = &stop;
      w->cycles = &cycles;
      w->errors = &errors;
      w->running = &running;
      w->receiver = g_shared_queue ? "q" : "r" + std::to_string(t);
      w->claimer = "n" + std::to_string(t);
      w->message.sender = "bench";
      w->message.receiver = w->receiver;
      w->message.message_type = "job_submit";
      w->message.payload = payload;
      all.push_back(std::move(w));
    }
    const auto begin = Clock::now();
    for (auto& w : all) pool.Post([p = w.get()] { p->Deliver(); });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    const auto counted = cycles.load();
    const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
    while (running.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::vector<double> lat;
    for (auto& w : all) lat.insert(lat.end(), w->latencies.begin(), w->latencies.end());
    r.cycles_per_sec = static_cast<double>(counted) / elapsed;
    r.p50_us = Percentile(lat, 0.50);
    r.p99_us = Percentile(lat, 0.99);
    r.errors = errors.load();
  }
  (void)store.Close();
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
  std::vector<std::string> modes = {"threads", "async"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--seconds") {
      seconds = std::stod(argv[i + 1]);
    } else if (flag == "--writers") {
      writer_counts = ParseList(argv[i + 1]);
    } else if (flag == "--queue") {
      g_shared_queue = std::string(argv[i + 1]) == "shared";
    } else if (flag == "--ack") {
      g_ack_next = std::string(argv[i + 1]) == "next";
    } else if (flag == "--mode") {
      const std::string m = argv[i + 1];
      modes =
          m == "both" ? std::vector<std::string>{"threads", "async"} : std::vector<std::string>{m};
    } else {
      std::fprintf(stderr,
                   "usage: store_bench [--dir DIR] [--seconds S] [--writers 1,8,64] "
                   "[--mode threads|async|both] [--queue own|shared] [--ack request|next]\n");
      return 2;
    }
  }
  if (g_ack_next) modes = {"async"};  // the thread-per-writer loop has no ack-next form
  std::printf(
      "| writers | writer | commit | durability | cycles/s | deliver p50 (us) | deliver p99 (us) "
      "|\n");
  std::printf("|---:|---|---|---|---:|---:|---:|\n");
  for (int writers : writer_counts) {
    for (const std::string& mode : modes) {
      const bool async = mode == "async";
      double group_full = 0;
      double single_full = 0;
      for (Durability durability : {Durability::kFull, Durability::kBuffered}) {
        const bool full = durability == Durability::kFull;
        for (Commit commit : {Commit::kGroupOverlapped, Commit::kGroupInline, Commit::kSingle}) {
          if (!full && commit == Commit::kGroupInline) continue;  // no flush to overlap
          RunResult r = async ? RunAsyncCycles(dir + "/store", writers, commit, durability, seconds)
                              : RunCycles(dir + "/store", writers, commit, durability, seconds);
          if (full && commit == Commit::kGroupOverlapped) group_full = r.cycles_per_sec;
          if (full && commit == Commit::kSingle) single_full = r.cycles_per_sec;
          std::printf("| %d | %s | %s | %s | %.0f | %.0f | %.0f |%s\n", writers, mode.c_str(),
                      full || commit != Commit::kGroupOverlapped ? CommitName(commit) : "group",
                      full ? "full" : "buffered", r.cycles_per_sec, r.p50_us, r.p99_us,
                      r.errors > 0 ? (" errors: " + std::to_string(r.errors)).c_str() : "");
          std::fflush(stdout);
        }
      }
      std::printf("| %d | %s | group / one txn (full) | | **%.1fx** | | |\n", writers, mode.c_str(),
                  single_full > 0 ? group_full / single_full : 0.0);
    }
  }
  std::printf("\nraw fdatasync (4 KiB append) in %s: %.0f /s\n", dir.c_str(),
              FdatasyncRate(dir, seconds));
  std::filesystem::remove_all(dir);
  return 0;
}
