#include "crypto/fingerprint.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "crypto/base64url.h"

namespace populi::crypto {
namespace {

constexpr std::string_view kSafetyNumberDomain = "populi pairing safety number v1";

// u32be(len(node_id)) ‖ node_id ‖ ed25519_public ‖ x25519_public: unambiguous for any node id.
std::string EncodeParty(const PartyKeys& p) {
  std::string out;
  const auto n = static_cast<uint32_t>(p.node_id.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xff);
  out += p.node_id;
  out.append(reinterpret_cast<const char*>(p.ed25519_public.data()), p.ed25519_public.size());
  out.append(reinterpret_cast<const char*>(p.x25519_public.data()), p.x25519_public.size());
  return out;
}

}  // namespace

std::string KeyFingerprint(const uint8_t* key, size_t size) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, key, size);
  return "SHA256:" + Base64Url(digest, sizeof(digest));
}

std::string PairingSafetyNumber(const PartyKeys& a, const PartyKeys& b) {
  std::string first = EncodeParty(a);
  std::string second = EncodeParty(b);
  if (second < first) std::swap(first, second);

  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state,
                            reinterpret_cast<const unsigned char*>(kSafetyNumberDomain.data()),
                            kSafetyNumberDomain.size());
  const unsigned char separator = 0;
  crypto_hash_sha256_update(&state, &separator, 1);
  for (const std::string* part : {&first, &second})
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(part->data()),
                              part->size());
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);

  std::string out;
  for (int group = 0; group < 6; ++group) {
    uint64_t v = 0;
    for (int i = 0; i < 5; ++i) v = (v << 8) | digest[group * 5 + i];
    char digits[8];
    std::snprintf(digits, sizeof(digits), "%05u", static_cast<unsigned>(v % 100000));
    if (group > 0) out += ' ';
    out += digits;
  }
  return out;
}

}  // namespace populi::crypto
