#include "store/sqlite/checkpointer.h"

#include <pthread.h>

#include <chrono>

namespace populi::store::sqlite {

Checkpointer::Checkpointer(std::unique_ptr<Db> own, int threshold_frames)
    : db_(std::move(own)), threshold_frames_(threshold_frames) {
  // A connection learns that the database is in WAL mode when it first reads it; until then a
  // checkpoint through it does nothing (and reports a log of -1 frames).
  (void)db_->QueryInt("SELECT count(*) FROM sqlite_master");
  sqlite3_busy_timeout(db_->raw(), kRestartWaitMs);
  thread_ = std::thread([this] { Loop(); });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  db_.reset();
}

void Checkpointer::Install(Db& writer) {
  sqlite3_wal_hook(writer.raw(), &Checkpointer::OnCommit, this);
}

// Runs on the writer thread after every commit: only records the log size and wakes the thread.
int Checkpointer::OnCommit(void* self, sqlite3*, const char*, int frames) {
  auto* cp = static_cast<Checkpointer*>(self);
  if (frames < cp->threshold_frames_) return SQLITE_OK;
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard(cp->mu_);
    wake = !cp->requested_;
    cp->requested_ = true;
  }
  if (wake) cp->cv_.notify_one();
  return SQLITE_OK;
}

void Checkpointer::Loop() {
  pthread_setname_np(pthread_self(), "store-ckpt");
  for (;;) {
    {
      std::unique_lock<std::mutex> guard(mu_);
      cv_.wait(guard, [this] { return stopping_ || requested_; });
      if (stopping_) return;
      requested_ = false;  // a commit that still leaves the log long asks again
    }
    int log_frames = 0;
    int copied = 0;
    sqlite3_wal_checkpoint_v2(db_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
    // The writer resets the log only when one of its transactions starts with every frame copied,
    // which a checkpoint racing the next commit never leaves it; RESTART waits for that moment.
    // While it waits, new writes wait too: the wait is capped (kRestartWaitMs), and after a
    // RESTART that timed out on a long reader the next one waits kRestartBackoff, so a reader
    // holding a snapshot for seconds costs the writer one short stall per backoff, not a stall
    // per commit.
    const auto now = std::chrono::steady_clock::now();
    if (log_frames > 4 * threshold_frames_ && now >= next_restart_) {
      const int rc = sqlite3_wal_checkpoint_v2(db_->raw(), nullptr, SQLITE_CHECKPOINT_RESTART,
                                               &log_frames, &copied);
      if (rc == SQLITE_BUSY) next_restart_ = now + kRestartBackoff;
    }
  }
}

}  // namespace populi::store::sqlite
