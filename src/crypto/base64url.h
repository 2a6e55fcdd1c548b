// base64url without padding (RFC 4648 §5; the JOSE encoding, RFC 7515 §2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace populi::crypto {

std::string Base64Url(const uint8_t* data, size_t size);
inline std::string Base64Url(std::string_view bytes) {
  return Base64Url(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}
// Strict: only the URL-safe alphabet, no padding, no whitespace, zero trailing bits.
// kInvalidArgument otherwise (the message does not repeat the input).
Result<std::string> FromBase64Url(std::string_view text);

}  // namespace populi::crypto
