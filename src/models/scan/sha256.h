// SHA-256 of model files (OpenSSL's EVP digest: it uses the CPU's SHA extensions where present,
// several times faster than a portable implementation on multi-gigabyte files).
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace populi::models::scan {

// The file's SHA-256 as 64 lowercase hex characters, read in 1 MiB pieces.
Result<std::string> Sha256OfFile(const std::string& path);
// The SHA-256 of `bytes` as 64 lowercase hex characters.
std::string Sha256OfBytes(std::string_view bytes);

}  // namespace populi::models::scan
