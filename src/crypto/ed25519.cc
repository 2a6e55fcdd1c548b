#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstring>

namespace populi::crypto {
namespace {

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

}  // namespace

Result<Ed25519KeyPair> GenerateEd25519() {
  if (!SodiumReady())
    return Internal("libsodium failed to initialise",
                    "reinstall libsodium; the process cannot make keys without it");
  Ed25519KeyPair keys;
  crypto_sign_keypair(keys.public_key.data(), keys.secret_key.data());
  return keys;
}

Result<Ed25519KeyPair> Ed25519FromSeed(const std::array<uint8_t, 32>& seed) {
  if (!SodiumReady())
    return Internal("libsodium failed to initialise",
                    "reinstall libsodium; the process cannot make keys without it");
  Ed25519KeyPair keys;
  crypto_sign_seed_keypair(keys.public_key.data(), keys.secret_key.data(), seed.data());
  return keys;
}

std::array<uint8_t, 32> SeedOf(const Ed25519KeyPair& keys) {
  std::array<uint8_t, 32> seed{};
  crypto_sign_ed25519_sk_to_seed(seed.data(), keys.secret_key.data());
  return seed;
}

std::string SignBase64(const Ed25519KeyPair& keys, std::string_view message) {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), keys.secret_key.data());
  return Base64(sig, sizeof(sig));
}

bool VerifyBase64(std::string_view public_key_b64, std::string_view message,
                  std::string_view signature_b64) {
  if (!SodiumReady()) return false;
  auto pub = FromBase64(public_key_b64);
  auto sig = FromBase64(signature_b64);
  if (!pub.ok() || !sig.ok() || pub->size() != crypto_sign_PUBLICKEYBYTES ||
      sig->size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(pub->data())) == 0;
}

std::string Base64(const uint8_t* data, size_t size) {
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_encoded_len(size, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<std::string> FromBase64(std::string_view text) {
  std::string out(text.size() * 3 / 4 + 3, '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return InvalidArgument("malformed base64", "send standard base64 with padding");
  }
  out.resize(len);
  return out;
}

Result<std::array<uint8_t, 32>> Key32FromBase64(std::string_view text) {
  auto raw = FromBase64(text);
  std::array<uint8_t, 32> key{};
  const bool fits = raw.ok() && raw->size() == key.size();
  if (fits) std::memcpy(key.data(), raw->data(), key.size());
  if (raw.ok()) sodium_memzero(raw->data(), raw->size());
  if (!fits)
    return InvalidArgument("not base64 of a 32-byte key", "send the key as standard base64");
  return key;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof(digest));
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace populi::crypto
