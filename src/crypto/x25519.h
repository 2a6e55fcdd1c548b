// X25519 key agreement keys (RFC 7748, libsodium): each node's long-term encryption key, and the
// ephemeral keys of JWE envelopes (crypto/jwe.h). Keys are the raw 32-byte little-endian
// u-coordinate / scalar of RFC 7748 §5.
#pragma once

#include <array>
#include <cstdint>

#include "util/status.h"

namespace populi::crypto {

struct X25519KeyPair {
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 32> secret_key{};  // the scalar, as stored (clamped when used)
};

// A fresh key pair from libsodium's CSPRNG. kInternal only when libsodium cannot initialise.
Result<X25519KeyPair> GenerateX25519();
// The key pair whose secret scalar is `secret` (the secret at rest).
Result<X25519KeyPair> X25519FromSecret(const std::array<uint8_t, 32>& secret);

// X25519(secret, peer_public) into `shared`. A peer key of small order (the shared secret would
// be all zeros, RFC 7748 §6.1) is kInvalidArgument and leaves `shared` zeroed. The caller wipes
// `shared` after use.
Status X25519SharedSecret(const std::array<uint8_t, 32>& secret,
                          const std::array<uint8_t, 32>& peer_public,
                          std::array<uint8_t, 32>& shared);

// Overwrites the secret half of `keys` with zeros.
void WipeSecret(X25519KeyPair& keys);

// Initialises libsodium once per process; kInternal when it cannot.
Status SodiumInit();

}  // namespace populi::crypto
