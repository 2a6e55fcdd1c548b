// Wiping secret material. Every buffer that held a shared secret, a derived key or a private
// scalar is overwritten with zeros (sodium_memzero, which the compiler may not elide) before it
// is released.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace populi::crypto {

// Overwrites `size` bytes at `data` with zeros.
void Wipe(void* data, size_t size);
inline void Wipe(std::string& s) {
  Wipe(s.data(), s.size());
}
template <size_t N>
void Wipe(std::array<uint8_t, N>& a) {
  Wipe(a.data(), a.size());
}

// A fixed-size secret buffer that wipes itself when it goes out of scope. Not copyable.
template <size_t N>
class SecretBytes {
 public:
  SecretBytes() = default;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { Wipe(bytes); }

  uint8_t* data() { return bytes.data(); }
  const uint8_t* data() const { return bytes.data(); }
  static constexpr size_t size() { return N; }

  std::array<uint8_t, N> bytes{};
};

}  // namespace populi::crypto
