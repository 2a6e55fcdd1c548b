// Durability off the writer thread: the writer commits a batch (its WAL frames written, not yet
// flushed), hands the batch's completions here and starts the next batch while this thread
// flushes the write-ahead log with fdatasync. A caller is completed only after an fdatasync that
// began after its batch's COMMIT returned, so "ok" still means "on disk" — the guarantee of
// synchronous=FULL — while the flush of one batch overlaps the execution of the next.
//
// The writer connection runs with synchronous=NORMAL under this scheme: SQLite still syncs the
// WAL before every checkpoint, the database after it, and the WAL header whenever the log is
// reused, so the structure stays crash-safe; this class adds the per-commit flush.
//
// When an fdatasync fails, whether the flushed data reached the disk is unknown: every pending
// caller gets kStoreIo and failure() stays set, so the store refuses further writes until it is
// reopened (recovery then replays what the log really holds).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/status.h"

namespace populi::store::sqlite {

class WalSyncer {
 public:
  using Completion = std::function<void(Status)>;

  explicit WalSyncer(std::string wal_path);
  // Flushes and completes everything handed over, then stops the thread.
  ~WalSyncer();
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  // `dones[i]` receives `results[i]` once the log holding the batch is on disk (a failed write's
  // status is passed through unchanged). Call after the batch's COMMIT returned.
  void Enqueue(std::vector<Completion> dones, std::vector<Status> results);

  // Ok until an fdatasync failed; then the error every later write must get.
  Status failure() const;

  // fdatasync calls made so far (for tests and benchmarks: flushes are shared between batches).
  int64_t flushes() const;

 private:
  struct Batch {
    std::vector<Completion> dones;
    std::vector<Status> results;
  };
  void Loop();
  Status Flush();

  const std::string wal_path_;
  int fd_ = -1;  // the WAL, opened on first flush; reopened if the file was replaced

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Batch> pending_;
  bool stopping_ = false;
  Status failure_;
  int64_t flushes_ = 0;
  std::thread thread_;
};

}  // namespace populi::store::sqlite
