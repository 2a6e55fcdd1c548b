// Retry delays for a node that cannot reach its control plane (MESH-032): exponential growth with
// full jitter, capped, reset on success. Full jitter (a uniform draw in [0, ceiling]) spreads a
// whole mesh's retries after an outage instead of having every node knock at once.
#pragma once

#include <cstdint>
#include <random>

namespace populi::agent {

class Backoff {
 public:
  // ceiling(n) = min(cap_ms, base_ms × 2^n) for the n-th consecutive failure (n from 0).
  Backoff(int64_t base_ms, int64_t cap_ms, uint64_t seed);

  // The delay before the next try after one more failure: uniform in [base_ms / 2, ceiling]
  // (a floor of half the base keeps a failing node from spinning).
  int64_t NextDelayMs();
  // After a success: the next failure starts again from base_ms.
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }
  // A lower cap (never below base_ms); used once the control plane says how soon it judges a
  // silent node down.
  void LowerCap(int64_t cap_ms) {
    if (cap_ms >= base_ms_ && cap_ms < cap_ms_) cap_ms_ = cap_ms;
  }
  // The ceiling for the current failure count (for logs and tests).
  int64_t CeilingMs() const;

 private:
  int64_t base_ms_;
  int64_t cap_ms_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace populi::agent
