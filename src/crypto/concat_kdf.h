// The Concat KDF of NIST SP 800-56A §5.8.1 with SHA-256, as JOSE's ECDH-ES uses it
// (RFC 7518 §4.6.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "util/status.h"

namespace populi::crypto {

// Derives `out_size` bytes (keydatalen = 8 * out_size bits) from the shared secret `z`:
//   out = first out_size bytes of H(1 ‖ Z ‖ OtherInfo) ‖ H(2 ‖ Z ‖ OtherInfo) ‖ …
// with H = SHA-256, the round counter a 32-bit big-endian integer, and
//   OtherInfo = AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ SuppPubInfo
// where the first three are each a 32-bit big-endian length followed by the bytes
// (`algorithm_id`, `party_u_info`, `party_v_info`, already base64url-decoded), SuppPubInfo is
// keydatalen as a 32-bit big-endian integer, and SuppPrivInfo is empty.
// kInvalidArgument when out_size is 0 or keydatalen does not fit in 32 bits.
Status ConcatKdfSha256(const uint8_t* z, size_t z_size, std::string_view algorithm_id,
                       std::string_view party_u_info, std::string_view party_v_info, uint8_t* out,
                       size_t out_size);

}  // namespace populi::crypto
