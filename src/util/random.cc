#include "util/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

namespace populi {
namespace {

void FillRandom(void* out, size_t len) {
  auto* p = static_cast<unsigned char*>(out);
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();  // the kernel's CSPRNG is unavailable: nothing safe to fall back to
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

}  // namespace

std::string RandomHex(size_t bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::vector<unsigned char> buf(bytes);
  FillRandom(buf.data(), buf.size());
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : buf) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

uint64_t RandomBelow(uint64_t bound) {
  // Rejection sampling avoids modulo bias.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  uint64_t v;
  do {
    FillRandom(&v, sizeof v);
  } while (v >= limit);
  return v % bound;
}

}  // namespace populi
