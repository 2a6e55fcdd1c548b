// A bounded little-endian reader over a file or a byte string: the model header parsers read
// through it so that no length taken from a file is trusted before it is checked against the
// bytes that are actually there.
//
// Contract: Read and Skip either consume exactly what they are asked for or fail (return false)
// and consume nothing more; a failed read past the end never allocates. Files are read through a
// fixed 64 KiB buffer with pread, whatever they claim.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace populi::models::scan {

static_assert(std::endian::native == std::endian::little,
              "the model header readers assume a little-endian host");

class ByteReader {
 public:
  // Reads `bytes`, which must outlive the reader.
  static ByteReader FromMemory(std::string_view bytes);
  // Opens `path` for reading (kNotFound / kFailedPrecondition naming the path).
  static Result<ByteReader> OpenFile(const std::string& path);

  ByteReader(ByteReader&& other) noexcept;
  ByteReader& operator=(ByteReader&& other) noexcept;
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;
  ~ByteReader();

  uint64_t size() const { return size_; }
  uint64_t offset() const { return offset_; }
  uint64_t remaining() const { return size_ - offset_; }

  // Exactly n bytes into dst; false (offset unchanged) when fewer remain or the file errs.
  bool Read(void* dst, size_t n);
  // Moves past n bytes; false (offset unchanged) when fewer remain.
  bool Skip(uint64_t n);
  // A little-endian scalar.
  template <typename T>
  bool ReadLe(T& out) {
    unsigned char raw[sizeof(T)];
    if (!Read(raw, sizeof(T))) return false;
    std::memcpy(&out, raw, sizeof(T));
    return true;
  }
  // n bytes as a string (n checked against what remains before anything is allocated).
  bool ReadString(uint64_t n, std::string& out);

 private:
  ByteReader() = default;
  bool Fill(uint64_t at);  // file mode: loads the buffer starting at `at`

  int fd_ = -1;
  const unsigned char* memory_ = nullptr;  // memory mode
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
  std::vector<unsigned char> buffer_;  // file mode
  uint64_t buffer_start_ = 0;
  size_t buffer_len_ = 0;
};

}  // namespace populi::models::scan
