#include "store/sqlite/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace populi::store::sqlite {

Result<std::unique_ptr<DirLock>> DirLock::Acquire(const std::string& lock_path,
                                                  const std::string& store_path) {
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status(Code::kStoreIo, "open lock file " + lock_path + ": " + std::strerror(errno),
                  "check the store directory exists and is writable");
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char buffer[32] = {};
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    ::close(fd);
    if (error != EWOULDBLOCK) {
      return Status(Code::kStoreIo, "lock " + lock_path + ": " + std::strerror(error),
                    "check that the data directory is writable by this user");
    }
    std::string pid = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "unknown";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return FailedPrecondition("store " + store_path + " is in use by pid " + pid +
                                  " \u2014 is another vox populi serve running?",
                              "stop the other process, or pass a different --data-dir");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    ::close(fd);
    return Status(Code::kStoreIo, "write lock file " + lock_path + ": " + std::strerror(errno),
                  "check free space and permissions of the data directory");
  }
  return std::unique_ptr<DirLock>(new DirLock(fd));
}

DirLock::~DirLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace populi::store::sqlite
