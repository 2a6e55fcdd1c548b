// Copies the write-ahead log back into the database on its own thread and connection, so no commit
// runs a checkpoint inline (with SQLite's automatic checkpoint, the commit that crosses the
// threshold copies the whole log and fsyncs the database file itself: tens of milliseconds).
//
// Install() turns the writer connection's automatic checkpoint off and asks for a checkpoint
// whenever a commit leaves more than `threshold_frames` frames in the log. Checkpoints are
// PASSIVE (they never block the writer or readers). SQLite reuses the log from its start only when
// a write transaction begins with every frame already copied, which a checkpoint racing the next
// commit never leaves it; so once the log passes 4 × the threshold, a RESTART checkpoint waits for
// the writer's current batch and for readers (at most kRestartWaitMs, since new writes wait with
// it), copies the remainder and lets the next transaction start the log over: the log stays
// bounded. A RESTART that timed out on a long reader is not retried for kRestartBackoff.
#pragma once

#include <chrono>
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

 private:
  static int OnCommit(void* self, sqlite3* db, const char* schema, int frames);
  void Loop();

  static constexpr int kRestartWaitMs = 50;
  static constexpr std::chrono::seconds kRestartBackoff{1};

  std::unique_ptr<Db> db_;
  const int threshold_frames_;
  std::chrono::steady_clock::time_point next_restart_{};  // used by the thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;  // a commit left the log over the threshold since the last run
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace populi::store::sqlite
