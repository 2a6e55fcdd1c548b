// The one-time code a person carries from one node to the other when pairing them, and the
// proof of knowing it that each side sends over the pairing transcript.
//
// A code is 10 characters of Crockford's base32 (0-9, A-Z without I, L, O, U): 50 random bits,
// shown as XXXXX-XXXXX.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace populi::crypto {

// A fresh code from libsodium's CSPRNG, as shown: "XXXXX-XXXXX".
std::string NewPairingCode();

// The code as typed → its normal form: the 10 characters, upper case, without separators
// ("ABCDE12345"). Case-insensitive; '-' and spaces are ignored; O reads as 0, I and L as 1.
// Any other character, or a length other than 10, is kInvalidArgument with a hint.
Result<std::string> NormalizePairingCode(std::string_view typed);

// HMAC-SHA256 keyed with the normalised code over `transcript`, as unpadded base64url.
std::string PairingProof(std::string_view normalized_code, std::string_view transcript);
// True only when `proof` is PairingProof(normalized_code, transcript); compared in constant
// time. Malformed `proof` → false.
bool VerifyPairingProof(std::string_view normalized_code, std::string_view transcript,
                        std::string_view proof);

}  // namespace populi::crypto
