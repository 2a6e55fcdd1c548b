// Cryptographically strong random values from the kernel (getrandom(2)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace populi {

// `bytes` random bytes as lowercase hex (2*bytes characters). Used for lease ids (16 bytes),
// request ids and tokens.
std::string RandomHex(size_t bytes);

// A uniformly distributed value in [0, bound); bound > 0.
uint64_t RandomBelow(uint64_t bound);

}  // namespace populi
