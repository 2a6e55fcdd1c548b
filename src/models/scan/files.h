// File-system helpers of the scanners: stamps (what the cache is keyed by), small whole-file
// reads with a size cap, and atomic replacement.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace populi::models::scan {

// What a cached fact about a file is valid for: the file at that path, of that size, last
// modified then. A rewrite of the file changes at least one of them.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// stat(2), following symbolic links; kNotFound when the path (or a link's target) is missing,
// kFailedPrecondition when it is not a regular file or cannot be read.
Result<FileStamp> StampOf(const std::string& path);

// The whole file when it is at most `max_bytes` (kTooLarge otherwise).
Result<std::string> ReadWholeFile(const std::string& path, uint64_t max_bytes);

// Writes `contents` to `path` through a temporary file and a rename, creating the parent
// directory; a reader sees the old file or the new one, never a part.
Status WriteFileAtomically(const std::string& path, std::string_view contents);

// `dir` + "/" + `name`.
std::string JoinPath(std::string_view dir, std::string_view name);
// The last component of `path` ("a/b.gguf" → "b.gguf").
std::string BaseName(std::string_view path);
// The directory of `path` ("a/b.gguf" → "a").
std::string DirName(std::string_view path);

}  // namespace populi::models::scan
