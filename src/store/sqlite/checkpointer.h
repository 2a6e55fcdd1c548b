// Copies the write-ahead log back into the database on its own thread and connection, so no commit
// runs a full checkpoint inline (with SQLite's automatic checkpoint, the commit that crosses the
// threshold copies the whole log and fsyncs the database file itself: tens of milliseconds).
//
// Install() turns the writer connection's automatic checkpoint off and wakes the thread whenever
// a commit leaves more than `threshold_frames` frames in the log; the thread runs PASSIVE
// checkpoints, which never block the writer or readers.
//
// SQLite starts the log over only when a write transaction begins with every frame already
// copied. Under a steady stream of writes a background checkpoint never leaves it that way (the
// writer has always appended since the checkpoint began), and the log would grow without bound —
// every frame a fresh file page rather than a reused one. So once the log passes
// 4 × `threshold_frames`, the writer thread itself, between two transactions, runs one PASSIVE
// checkpoint of what the background thread has not yet copied (CatchUp); its next transaction then
// starts the log from the beginning. That pass is short because the thread copied the bulk, and it
// does not wait: if a background pass is running, the writer asks the thread not to start another
// and tries again after its next transaction; if a reader still needs old frames, it tries again
// after the next commit. Only past 16 × `threshold_frames` (the background thread starved of CPU
// for many batches) does the writer wait for the running pass to end before copying the rest, so
// the log stays bounded on a loaded machine too.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "store/sqlite/db.h"

namespace populi::store::sqlite {

class Checkpointer {
 public:
  // `own` is a read-write connection used only by this thread.
  Checkpointer(std::unique_ptr<Db> own, int threshold_frames);
  // Stops the thread and closes its connection (the writer's close runs the final checkpoint).
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Routes `writer`'s post-commit hook here. Call once, before the writer's first commit.
  void Install(Db& writer);

  // Call on the writer's thread with no transaction open on `writer` (the connection passed to
  // Install). Copies the rest of the log when it has grown past the restart threshold, so the
  // writer's next transaction reuses the log from its start. Cheap when there is nothing to do.
  void CatchUp(Db& writer);

 private:
  static int OnCommit(void* self, sqlite3* db, const char* schema, int frames);
  void Loop();

  static constexpr int kRestartFactor = 4;  // × threshold: the writer copies the rest itself
  static constexpr int kHardFactor = 16;    // × threshold: the writer waits for a running pass
  std::unique_ptr<Db> db_;
  const int threshold_frames_;
  std::atomic<int> log_frames_{0};           // frames in the log after the writer's last commit
  std::mutex pass_mu_;                       // held for each checkpoint pass, by either thread
  std::atomic<bool> writer_waiting_{false};  // the writer wants the next pass; the thread yields
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;  // a commit left the log over the threshold since the last run
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace populi::store::sqlite
