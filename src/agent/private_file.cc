#include "agent/private_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace populi::agent {
namespace fs = std::filesystem;

Result<std::optional<std::string>> ReadPrivateFile(const std::string& path, std::string_view what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Status(Code::kStoreIo, "cannot read " + path + ": " + std::strerror(errno),
                  "check the permissions of the mesh data directory");
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
    ::close(fd);
    return Status(Code::kPermissionDenied,
                  std::string(what) + " " + path + " is readable by other users",
                  "chmod 600 " + path);
  }
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Status(Code::kStoreIo, "cannot read " + path + ": " + why,
                    "check the mesh data directory's disk");
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(text));
}

Status WritePrivateFile(const std::string& path, const std::string& text) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent)) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) {
      return {Code::kStoreIo, "cannot create " + parent.string() + ": " + ec.message(),
              "set VOX_HOME or mesh.store.path to a writable directory"};
    }
    ::chmod(parent.c_str(), 0700);
  }
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return {Code::kStoreIo, "cannot write " + tmp + ": " + std::strerror(errno),
            "check that the mesh data directory is writable"};
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return {Code::kStoreIo, "cannot write " + path + ": " + std::strerror(errno),
            "check free space and permissions in the mesh data directory"};
  }
  return Status::Ok();
}

PrivateFileLock::PrivateFileLock(const std::string& path) {
  const std::string lock = path + ".lock";
  const fs::path parent = fs::path(lock).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    status_ = {Code::kStoreIo, "cannot open " + lock + ": " + std::strerror(errno),
               "check that the mesh data directory is writable"};
    return;
  }
  while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
  }
}

PrivateFileLock::~PrivateFileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace populi::agent
