#include "crypto/x25519.h"

#include <sodium.h>

#include "crypto/secret.h"

namespace populi::crypto {

Status SodiumInit() {
  static const bool ready = sodium_init() >= 0;
  if (!ready)
    return Internal("libsodium failed to initialise",
                    "reinstall libsodium; the process cannot make keys without it");
  return {};
}

Result<X25519KeyPair> X25519FromSecret(const std::array<uint8_t, 32>& secret) {
  POPULI_RETURN_IF_ERROR(SodiumInit());
  X25519KeyPair keys;
  keys.secret_key = secret;
  if (crypto_scalarmult_base(keys.public_key.data(), keys.secret_key.data()) != 0) {
    WipeSecret(keys);
    return Internal("X25519 public key derivation failed", "report this as a bug");
  }
  return keys;
}

Result<X25519KeyPair> GenerateX25519() {
  POPULI_RETURN_IF_ERROR(SodiumInit());
  SecretBytes<32> secret;
  randombytes_buf(secret.data(), secret.size());
  return X25519FromSecret(secret.bytes);
}

Status X25519SharedSecret(const std::array<uint8_t, 32>& secret,
                          const std::array<uint8_t, 32>& peer_public,
                          std::array<uint8_t, 32>& shared) {
  POPULI_RETURN_IF_ERROR(SodiumInit());
  // libsodium refuses an all-zero result itself; the explicit check keeps the contract if an
  // implementation ever does not.
  const int rc = crypto_scalarmult(shared.data(), secret.data(), peer_public.data());
  if (rc != 0 || sodium_is_zero(shared.data(), shared.size())) {
    Wipe(shared);
    return InvalidArgument("the peer's X25519 public key is a low-order point",
                           "the key is invalid or forged; ask the peer for its real public key");
  }
  return {};
}

void WipeSecret(X25519KeyPair& keys) {
  Wipe(keys.secret_key);
}

}  // namespace populi::crypto
