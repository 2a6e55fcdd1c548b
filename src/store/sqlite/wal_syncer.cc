#include "store/sqlite/wal_syncer.h"

#include "store/sqlite/store_metrics.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace populi::store::sqlite {

WalSyncer::WalSyncer(std::string wal_path) : wal_path_(std::move(wal_path)) {
  thread_ = std::thread([this] { Loop(); });
}

WalSyncer::~WalSyncer() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void WalSyncer::Enqueue(std::vector<Completion> dones, std::vector<Status> results) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    pending_.push_back({std::move(dones), std::move(results)});
  }
  cv_.notify_one();
}

Status WalSyncer::failure() const {
  std::lock_guard<std::mutex> guard(mu_);
  return failure_;
}

int64_t WalSyncer::flushes() const {
  std::lock_guard<std::mutex> guard(mu_);
  return flushes_;
}

void WalSyncer::Loop() {
  pthread_setname_np(pthread_self(), "store-sync");
  for (;;) {
    std::vector<Batch> work;
    {
      std::unique_lock<std::mutex> guard(mu_);
      cv_.wait(guard, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping with nothing left to flush
      work.swap(pending_);
    }
    // Every batch in `work` committed before this point, so one flush covers all of them.
    const auto flush_started = std::chrono::steady_clock::now();
    Status flushed = Flush();
    StoreMetrics::Get().Flushed(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - flush_started).count(),
        flushed.ok());
    {
      std::lock_guard<std::mutex> guard(mu_);
      ++flushes_;
      if (!flushed.ok() && failure_.ok()) failure_ = flushed;
    }
    for (Batch& batch : work) {
      for (size_t i = 0; i < batch.dones.size(); ++i) {
        batch.dones[i](batch.results[i].ok() ? flushed : std::move(batch.results[i]));
      }
    }
  }
}

Status WalSyncer::Flush() {
  // The log is only ever deleted when the last connection closes, which cannot happen while the
  // store is open; a link count of 0 would mean it was replaced, so reopen by path.
  struct stat st {};
  if (fd_ >= 0 && (::fstat(fd_, &st) != 0 || st.st_nlink == 0)) {
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) fd_ = ::open(wal_path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0 || ::fdatasync(fd_) != 0) {
    return Status(Code::kStoreIo,
                  "flushing the store's write-ahead log failed (" + wal_path_ +
                      "): " + std::strerror(errno) + "; the store refuses writes from now on",
                  "check the disk (dmesg, free space), then restart the server to recover");
  }
  return Status::Ok();
}

}  // namespace populi::store::sqlite
