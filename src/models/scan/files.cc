#include "models/scan/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace populi::models::scan {

Result<FileStamp> StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT)
      return NotFound(path + ": no such file (or a link to a missing file)",
                      "the file may have been removed during the scan");
    return FailedPrecondition(path + ": " + std::strerror(err), "check the file's permissions");
  }
  if (!S_ISREG(st.st_mode))
    return FailedPrecondition(path + ": not a regular file", "point the scan at model files");
  return FileStamp{static_cast<uint64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Result<std::string> ReadWholeFile(const std::string& path, uint64_t max_bytes) {
  POPULI_ASSIGN_OR_RETURN(FileStamp stamp, StampOf(path));
  if (stamp.size > max_bytes) {
    return Status(Code::kTooLarge,
                  path + ": " + std::to_string(stamp.size) + " bytes, over the limit of " +
                      std::to_string(max_bytes),
                  "this is not the small JSON file it is named as");
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FailedPrecondition(path + ": cannot open: " + std::strerror(errno),
                              "check the file's permissions");
  std::string out;
  char buf[16384];
  while (out.size() <= max_bytes) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (out.size() > max_bytes)
    return Status(Code::kTooLarge, path + ": grew over the limit while being read",
                  "this is not the small JSON file it is named as");
  return out;
}

Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  std::error_code ec;
  const std::string dir = DirName(path);
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return FailedPrecondition(tmp + ": cannot create: " + std::strerror(errno),
                              "check the data directory's permissions");
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == contents.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return FailedPrecondition(path + ": cannot write: " + std::strerror(errno),
                              "check the free space and permissions of the data directory");
  }
  return Status::Ok();
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {};
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

}  // namespace populi::models::scan
