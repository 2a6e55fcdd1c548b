// Files only this node's user may read (identity, encryption keys, pairings, secrets): read with
// a mode check, written whole and atomically with mode 0600, and updated under an advisory lock
// so the CLI and a running agent never lose each other's changes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace populi::agent {

// The file's text; nullopt when it does not exist. A file readable or writable by group or
// others is kPermissionDenied ("<what> <path> is readable by other users", hint chmod 600).
Result<std::optional<std::string>> ReadPrivateFile(const std::string& path, std::string_view what);

// Writes `text` to `path` through a temporary file (mode 0600), fsync and rename, creating the
// parent directory (0700) when missing. kStoreIo on failure; the old file is kept then.
Status WritePrivateFile(const std::string& path, const std::string& text);

// An exclusive flock on "<path>.lock" for as long as the object lives: the read-modify-write of
// one private file by several processes.
class PrivateFileLock {
 public:
  explicit PrivateFileLock(const std::string& path);
  ~PrivateFileLock();
  PrivateFileLock(const PrivateFileLock&) = delete;
  PrivateFileLock& operator=(const PrivateFileLock&) = delete;
  // kStoreIo when the lock file could not be opened (the lock is not held).
  const Status& status() const { return status_; }

 private:
  int fd_ = -1;
  Status status_;
};

}  // namespace populi::agent
