#include "models/scan/byte_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace populi::models::scan {
namespace {

constexpr size_t kReaderBufferBytes = 64 * 1024;

}  // namespace

ByteReader ByteReader::FromMemory(std::string_view bytes) {
  ByteReader r;
  r.memory_ = reinterpret_cast<const unsigned char*>(bytes.data());
  r.size_ = bytes.size();
  return r;
}

Result<ByteReader> ByteReader::OpenFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT)
      return NotFound(path + ": no such file", "check the model directory settings");
    return FailedPrecondition(path + ": cannot open: " + std::strerror(err),
                              "check the file's permissions");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return FailedPrecondition(path + ": not a regular file", "point the scan at model files");
  }
  ByteReader r;
  r.fd_ = fd;
  r.size_ = static_cast<uint64_t>(st.st_size);
  r.buffer_.resize(kReaderBufferBytes);
  return r;
}

ByteReader::ByteReader(ByteReader&& other) noexcept {
  *this = std::move(other);
}

ByteReader& ByteReader::operator=(ByteReader&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    memory_ = other.memory_;
    size_ = other.size_;
    offset_ = other.offset_;
    buffer_ = std::move(other.buffer_);
    buffer_start_ = other.buffer_start_;
    buffer_len_ = std::exchange(other.buffer_len_, 0);
  }
  return *this;
}

ByteReader::~ByteReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool ByteReader::Fill(uint64_t at) {
  const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), size_ - at));
  size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(fd_, buffer_.data() + got, want - got, static_cast<off_t>(at + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // error, or the file shrank under us
    got += static_cast<size_t>(n);
  }
  buffer_start_ = at;
  buffer_len_ = got;
  return got > 0;
}

bool ByteReader::Read(void* dst, size_t n) {
  if (n > remaining()) return false;
  if (memory_ != nullptr || fd_ < 0) {
    if (n > 0) std::memcpy(dst, memory_ + offset_, n);
    offset_ += n;
    return true;
  }
  auto* out = static_cast<unsigned char*>(dst);
  uint64_t at = offset_;
  size_t left = n;
  while (left > 0) {
    if (at < buffer_start_ || at >= buffer_start_ + buffer_len_) {
      if (!Fill(at)) return false;
    }
    const size_t in_buffer = static_cast<size_t>(buffer_start_ + buffer_len_ - at);
    const size_t take = std::min(left, in_buffer);
    std::memcpy(out, buffer_.data() + (at - buffer_start_), take);
    out += take;
    at += take;
    left -= take;
  }
  offset_ = at;
  return true;
}

bool ByteReader::Skip(uint64_t n) {
  if (n > remaining()) return false;
  offset_ += n;
  return true;
}

bool ByteReader::ReadString(uint64_t n, std::string& out) {
  if (n > remaining()) return false;
  out.resize(static_cast<size_t>(n));
  if (Read(out.data(), out.size())) return true;
  out.clear();
  return false;
}

}  // namespace populi::models::scan
