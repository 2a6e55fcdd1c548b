// End-to-end envelopes between paired nodes: JWE (RFC 7516) compact serialization with
//   alg "ECDH-ES" — direct key agreement (RFC 7518 §4.6) with an ephemeral X25519 key carried as
//                   `epk` {"kty":"OKP","crv":"X25519","x":…} (RFC 8037), the content key derived
//                   by the Concat KDF (crypto/concat_kdf.h), no encrypted key;
//   enc "A256GCM" — AES-256-GCM, 96-bit random IV, 128-bit tag, AAD = the ASCII of the
//                   base64url protected header.
// Every header member is in the protected header. The exact profile, and every check on
// decrypt, are in docs/secrets.md ("Envelope format").
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "crypto/x25519.h"
#include "util/status.h"

namespace populi::crypto {

inline constexpr std::string_view kJweAlg = "ECDH-ES";
inline constexpr std::string_view kJweEnc = "A256GCM";

struct JweHeaderClaims {
  // KeyFingerprint() of the recipient's X25519 public key (crypto/fingerprint.h).
  std::string kid;
  // Additional string members of the protected header, authenticated by AES-GCM (AAD). Names
  // registered for JWS/JWE headers (alg, enc, epk, kid, zip, crit, apu, apv, …) are refused;
  // "typ" and "cty" are allowed.
  std::map<std::string, std::string> extra;
};

// Seals `plaintext` to the holder of the X25519 secret for `recipient_x25519_public`. An empty
// claims.kid is filled in with the recipient key's fingerprint; any other kid than that is
// kInvalidArgument, as are a reserved or non-UTF-8 extra member and a low-order recipient key.
Result<std::string> JweEncrypt(const std::array<uint8_t, 32>& recipient_x25519_public,
                               const JweHeaderClaims& claims, std::string_view plaintext);

struct JweOpened {
  std::string plaintext;  // the caller wipes it (crypto/secret.h) when it is a secret
  JweHeaderClaims claims;
};

// Opens an envelope sealed to `recipient`. Malformed input (part count, base64url, header
// members, algorithms, sizes, a low-order epk) is kInvalidArgument; an envelope for another
// key (kid mismatch) or one that fails authentication (altered header, IV, ciphertext or tag, or
// the wrong secret) is kPermissionDenied. Messages name what was wrong and never contain key,
// plaintext or ciphertext bytes.
Result<JweOpened> JweDecrypt(const X25519KeyPair& recipient, std::string_view compact);

}  // namespace populi::crypto
