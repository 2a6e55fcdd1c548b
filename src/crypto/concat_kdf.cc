#include "crypto/concat_kdf.h"

#include <sodium.h>

#include <algorithm>
#include <limits>

#include "crypto/secret.h"

namespace populi::crypto {
namespace {

void PutU32(crypto_hash_sha256_state& state, uint32_t v) {
  const unsigned char be[4] = {static_cast<unsigned char>(v >> 24),
                               static_cast<unsigned char>(v >> 16),
                               static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  crypto_hash_sha256_update(&state, be, sizeof(be));
}

void PutLengthPrefixed(crypto_hash_sha256_state& state, std::string_view bytes) {
  PutU32(state, static_cast<uint32_t>(bytes.size()));
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

}  // namespace

Status ConcatKdfSha256(const uint8_t* z, size_t z_size, std::string_view algorithm_id,
                       std::string_view party_u_info, std::string_view party_v_info, uint8_t* out,
                       size_t out_size) {
  constexpr size_t kMaxField = std::numeric_limits<uint32_t>::max();
  if (out_size == 0 || out_size > kMaxField / 8)
    return InvalidArgument("Concat KDF: the key length must be 1 to 2^29 - 1 bytes",
                           "report this as a bug");
  if (algorithm_id.size() > kMaxField || party_u_info.size() > kMaxField ||
      party_v_info.size() > kMaxField)
    return InvalidArgument("Concat KDF: an OtherInfo field is longer than 2^32 - 1 bytes",
                           "shorten apu / apv");
  SecretBytes<crypto_hash_sha256_BYTES> block;
  size_t done = 0;
  for (uint32_t counter = 1; done < out_size; ++counter) {
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    PutU32(state, counter);
    crypto_hash_sha256_update(&state, z, z_size);
    PutLengthPrefixed(state, algorithm_id);
    PutLengthPrefixed(state, party_u_info);
    PutLengthPrefixed(state, party_v_info);
    PutU32(state, static_cast<uint32_t>(out_size * 8));
    crypto_hash_sha256_final(&state, block.data());
    Wipe(&state, sizeof(state));
    const size_t take = std::min(block.size(), out_size - done);
    std::copy_n(block.data(), take, out + done);
    done += take;
  }
  return {};
}

}  // namespace populi::crypto
