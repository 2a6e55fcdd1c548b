// An exclusive, process-wide lock on a store directory: flock(2) on `<dir>/<name>.lock`, which
// also records the holder's pid so a second process can say who holds it. The kernel drops the
// lock when the holder dies, so a SIGKILLed serve never leaves a stale lock behind.
#pragma once

#include <memory>
#include <string>

#include "util/status.h"

namespace populi::store::sqlite {

class DirLock {
 public:
  // kFailedPrecondition "store <path> is in use by pid N — is another vox populi serve
  // running?" when another open file description holds it.
  static Result<std::unique_ptr<DirLock>> Acquire(const std::string& lock_path,
                                                  const std::string& store_path);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace populi::store::sqlite
