// Node signing keys (Ed25519, libsodium). A node signs what it reports (task results) with its
// secret key; the control plane verifies with the public key the node sent at join.
//
// Encoding: keys and signatures travel as standard base64 with padding (sodium's
// sodium_base64_VARIANT_ORIGINAL).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace populi::crypto {

struct Ed25519KeyPair {
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 64> secret_key{};  // libsodium layout: seed ‖ public key
};

// A fresh key pair from the system's CSPRNG.
Result<Ed25519KeyPair> GenerateEd25519();
// The key pair whose 32-byte seed is `seed` (the secret at rest).
Result<Ed25519KeyPair> Ed25519FromSeed(const std::array<uint8_t, 32>& seed);
std::array<uint8_t, 32> SeedOf(const Ed25519KeyPair& keys);

// Detached signature over `message`, base64.
std::string SignBase64(const Ed25519KeyPair& keys, std::string_view message);
// True only for a valid signature by `public_key_b64` over `message`. Malformed input → false.
bool VerifyBase64(std::string_view public_key_b64, std::string_view message,
                  std::string_view signature_b64);

std::string Base64(const uint8_t* data, size_t size);
// kInvalidArgument on malformed base64.
Result<std::string> FromBase64(std::string_view text);
// A 32-byte key (X25519 or Ed25519 public key, X25519 secret) from standard base64;
// kInvalidArgument when malformed or not exactly 32 bytes. The decoded copy is wiped.
Result<std::array<uint8_t, 32>> Key32FromBase64(std::string_view text);

// SHA-256 of `data` as 64 lowercase hex characters (digests that results are signed over).
std::string Sha256Hex(std::string_view data);

}  // namespace populi::crypto
