#include "agent/backoff.h"

#include <algorithm>

namespace populi::agent {

Backoff::Backoff(int64_t base_ms, int64_t cap_ms, uint64_t seed)
    : base_ms_(std::max<int64_t>(1, base_ms)), cap_ms_(std::max(base_ms, cap_ms)), rng_(seed) {}

int64_t Backoff::CeilingMs() const {
  int64_t ceiling = base_ms_;
  for (int i = 0; i < failures_ && ceiling < cap_ms_; ++i) ceiling *= 2;
  return std::min(ceiling, cap_ms_);
}

int64_t Backoff::NextDelayMs() {
  const int64_t ceiling = CeilingMs();
  ++failures_;
  std::uniform_int_distribution<int64_t> draw(std::min(base_ms_ / 2, ceiling), ceiling);
  return draw(rng_);
}

}  // namespace populi::agent
