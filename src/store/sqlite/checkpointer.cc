#include "store/sqlite/checkpointer.h"

#include <pthread.h>

namespace populi::store::sqlite {

Checkpointer::Checkpointer(std::unique_ptr<Db> own, int threshold_frames)
    : db_(std::move(own)), threshold_frames_(threshold_frames) {
  // A connection learns that the database is in WAL mode when it first reads it; until then a
  // checkpoint through it does nothing (and reports a log of -1 frames).
  (void)db_->QueryInt("SELECT count(*) FROM sqlite_master");
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
  cp->log_frames_.store(frames, std::memory_order_relaxed);
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

void Checkpointer::CatchUp(Db& writer) {
  const int frames = log_frames_.load(std::memory_order_relaxed);
  if (frames <= kRestartFactor * threshold_frames_) return;
  std::unique_lock<std::mutex> pass(pass_mu_, std::defer_lock);
  if (frames > kHardFactor * threshold_frames_) {
    pass.lock();  // a starved background pass must not let the log grow without bound
  } else if (!pass.try_lock()) {
    writer_waiting_.store(true);  // the running pass ends soon; the thread starts no new one
    return;
  }
  writer_waiting_.store(false);
  int log_frames = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(writer.raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                           &log_frames, &copied);
  // Once everything is copied the next transaction restarts the log; until it commits, the
  // count stays as the last commit left it, so do not try again before then.
  if (rc == SQLITE_OK && log_frames >= 0 && copied == log_frames) {
    log_frames_.store(0, std::memory_order_relaxed);
  }
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
    if (writer_waiting_.load()) continue;  // the writer copies the rest itself
    std::lock_guard<std::mutex> pass(pass_mu_);
    sqlite3_wal_checkpoint_v2(db_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
}

}  // namespace populi::store::sqlite
