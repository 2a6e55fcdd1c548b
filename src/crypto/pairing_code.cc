#include "crypto/pairing_code.h"

#include <sodium.h>

#include "crypto/base64url.h"
#include "crypto/secret.h"
#include "crypto/x25519.h"

namespace populi::crypto {
namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kCodeLength = 10;
constexpr const char* kCodeHint =
    "type the 10-character code the other node shows, like 7Q2KX-M4D9H (letters and digits; "
    "dashes and spaces are optional)";

void Hmac(std::string_view key, std::string_view message,
          unsigned char (&mac)[crypto_auth_hmacsha256_BYTES]) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()),
                                message.size());
  crypto_auth_hmacsha256_final(&state, mac);
  Wipe(&state, sizeof(state));
}

}  // namespace

std::string NewPairingCode() {
  // Without libsodium there is no CSPRNG; randombytes_uniform would abort anyway.
  (void)SodiumInit();
  std::string code;
  for (size_t i = 0; i < kCodeLength; ++i) {
    if (i == kCodeLength / 2) code += '-';
    code += kCrockford[randombytes_uniform(static_cast<uint32_t>(kCrockford.size()))];
  }
  return code;
}

Result<std::string> NormalizePairingCode(std::string_view typed) {
  std::string out;
  size_t position = 0;
  for (char c : typed) {
    ++position;
    if (c == '-' || c == ' ') continue;
    char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (u == 'O') u = '0';
    if (u == 'I' || u == 'L') u = '1';
    if (kCrockford.find(u) == std::string_view::npos) {
      const bool printable = c > ' ' && c < 0x7f;
      return InvalidArgument(
          "pairing code: " +
              (printable ? "'" + std::string(1, c) + "'" : std::string("a character")) +
              " at position " + std::to_string(position) + " is not used in pairing codes",
          kCodeHint);
    }
    out += u;
  }
  if (out.size() != kCodeLength)
    return InvalidArgument(
        "pairing code: expected 10 characters, got " + std::to_string(out.size()), kCodeHint);
  return out;
}

std::string PairingProof(std::string_view normalized_code, std::string_view transcript) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  Hmac(normalized_code, transcript, mac);
  return Base64Url(mac, sizeof(mac));
}

bool VerifyPairingProof(std::string_view normalized_code, std::string_view transcript,
                        std::string_view proof) {
  auto given = FromBase64Url(proof);
  if (!given.ok() || given->size() != crypto_auth_hmacsha256_BYTES) return false;
  unsigned char expected[crypto_auth_hmacsha256_BYTES];
  Hmac(normalized_code, transcript, expected);
  const bool same =
      crypto_verify_32(expected, reinterpret_cast<const unsigned char*>(given->data())) == 0;
  Wipe(expected, sizeof(expected));
  return same;
}

}  // namespace populi::crypto
