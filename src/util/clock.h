// Clocks. Lease expiry and liveness are judged on the control plane's clock only; everything that
// reasons about time takes a Clock (or an explicit now_ms) so tests can drive time by hand.
#pragma once

#include <atomic>
#include <cstdint>

namespace populi {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock Unix time in milliseconds (the wire's timestamp unit).
  virtual int64_t NowMs() const = 0;
  // Monotonic milliseconds, for measuring intervals; never goes backwards.
  virtual int64_t MonotonicMs() const = 0;
};

// The process's real clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  int64_t MonotonicMs() const override;
  static const SystemClock& Instance();
};

// A clock tests move by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  int64_t MonotonicMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }
  void Set(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace populi
