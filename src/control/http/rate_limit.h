// Token-bucket rate limiting keyed by caller (token label, node id). Plain code, no I/O.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace populi::http {

class RateLimiter {
 public:
  // `rate_per_sec` tokens refill per second up to `burst`. A rate of 0 or less disables the
  // limiter (every Acquire succeeds).
  RateLimiter(double rate_per_sec, double burst);

  // Takes one token from `key`'s bucket at monotonic time now_ms. nullopt when allowed, else
  // the milliseconds until a token will be available (for Retry-After).
  std::optional<int64_t> Acquire(std::string_view key, int64_t now_ms);
  // Like Acquire but takes nothing: nullopt while `key` has a token, else the wait.
  std::optional<int64_t> Peek(std::string_view key, int64_t now_ms) const;

  bool enabled() const { return rate_per_sec_ > 0; }
  size_t tracked_keys() const;

 private:
  struct Bucket {
    double tokens;
    int64_t updated_ms;
  };
  // Drops buckets that have refilled completely: they are indistinguishable from new ones.
  void PruneFull(int64_t now_ms);

  double rate_per_sec_;
  double burst_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  size_t prune_at_ = 4096;
};

}  // namespace populi::http
