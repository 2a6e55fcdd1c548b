// Fingerprints of public keys, and the safety number two nodes compare when they pair.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace populi::crypto {

// Fingerprint of one public key: "SHA256:" + unpadded base64url of SHA-256(key bytes)
// (50 characters for any key). The JWE `kid` of an envelope sealed to that key (crypto/jwe.h).
std::string KeyFingerprint(const uint8_t* key, size_t size);
inline std::string KeyFingerprint(const std::array<uint8_t, 32>& key) {
  return KeyFingerprint(key.data(), key.size());
}

// What one side of a pairing is known by.
struct PartyKeys {
  std::string node_id;
  std::array<uint8_t, 32> ed25519_public{};
  std::array<uint8_t, 32> x25519_public{};
};

// The pairing safety number both sides print: 30 decimal digits in 6 groups of 5, separated by
// spaces ("01234 56789 …"). Symmetric: PairingSafetyNumber(a, b) == PairingSafetyNumber(b, a).
// Any change to either party's node id or either of its keys changes it (except with
// probability about 10^-30). Definition (docs/secrets.md): each party is encoded as
// u32be(len(node_id)) ‖ node_id ‖ ed25519_public ‖ x25519_public; the two encodings are sorted
// bytewise; D = SHA-256("populi pairing safety number v1" ‖ 0x00 ‖ lower ‖ higher); group i
// (0..5) is the big-endian 40-bit integer D[5i..5i+5) mod 100000, zero-padded to 5 digits.
std::string PairingSafetyNumber(const PartyKeys& a, const PartyKeys& b);

}  // namespace populi::crypto
