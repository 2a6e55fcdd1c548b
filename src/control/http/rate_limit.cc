#include "control/http/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace populi::http {

RateLimiter::RateLimiter(double rate_per_sec, double burst)
    : rate_per_sec_(rate_per_sec), burst_(std::max(burst, 1.0)) {}

std::optional<int64_t> RateLimiter::Acquire(std::string_view key, int64_t now_ms) {
  if (!enabled()) return std::nullopt;
  std::lock_guard lock(mu_);
  if (buckets_.size() >= prune_at_) PruneFull(now_ms);
  auto [it, inserted] = buckets_.try_emplace(std::string(key), Bucket{burst_, now_ms});
  Bucket& bucket = it->second;
  if (!inserted && now_ms > bucket.updated_ms) {
    bucket.tokens =
        std::min(burst_, bucket.tokens + (now_ms - bucket.updated_ms) * rate_per_sec_ / 1000.0);
    bucket.updated_ms = now_ms;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return std::nullopt;
  }
  return static_cast<int64_t>(std::ceil((1.0 - bucket.tokens) * 1000.0 / rate_per_sec_));
}

std::optional<int64_t> RateLimiter::Peek(std::string_view key, int64_t now_ms) const {
  if (!enabled()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return std::nullopt;
  const Bucket& bucket = it->second;
  const double tokens =
      now_ms > bucket.updated_ms
          ? std::min(burst_, bucket.tokens + (now_ms - bucket.updated_ms) * rate_per_sec_ / 1000.0)
          : bucket.tokens;
  if (tokens >= 1.0) return std::nullopt;
  return static_cast<int64_t>(std::ceil((1.0 - tokens) * 1000.0 / rate_per_sec_));
}

size_t RateLimiter::tracked_keys() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

void RateLimiter::PruneFull(int64_t now_ms) {
  std::erase_if(buckets_, [&](const auto& entry) {
    const Bucket& b = entry.second;
    return b.tokens + (now_ms - b.updated_ms) * rate_per_sec_ / 1000.0 >= burst_;
  });
  // Many live callers: grow the threshold so pruning stays amortised.
  prune_at_ = std::max<size_t>(4096, buckets_.size() * 2);
}

}  // namespace populi::http
