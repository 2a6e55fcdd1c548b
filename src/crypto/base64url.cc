#include "crypto/base64url.h"

#include <sodium.h>

#include <cstring>

#include "crypto/secret.h"

namespace populi::crypto {

void Wipe(void* data, size_t size) {
  if (size > 0) sodium_memzero(data, size);
}

std::string Base64Url(const uint8_t* data, size_t size) {
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(size, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<std::string> FromBase64Url(std::string_view text) {
  std::string out(text.size() * 3 / 4 + 1, '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return InvalidArgument("malformed base64url",
                           "send unpadded base64url (RFC 4648 §5: A-Z a-z 0-9 - _)");
  }
  out.resize(len);
  return out;
}

}  // namespace populi::crypto
