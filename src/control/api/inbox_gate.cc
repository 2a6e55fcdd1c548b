#include "control/api/inbox_gate.h"

namespace populi::control {

bool InboxCapGate::AdmitWithoutCount(const std::string& receiver, int64_t incoming,
                                     int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(receiver);
  if (it == entries_.end()) return false;
  Entry& e = it->second;
  const bool fresh = now_ms >= e.counted_ms && now_ms - e.counted_ms < recount_ms_;
  // Compared as 2 × estimate ≤ cap: half the cap, without rounding it down to zero.
  if (!fresh || incoming > cap_ || 2 * (e.estimate + incoming) > cap_) return false;
  e.estimate += incoming;
  return true;
}

void InboxCapGate::Counted(const std::string& receiver, int64_t pending, int64_t admitted,
                           int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= kMaxReceivers && entries_.find(receiver) == entries_.end()) {
    std::erase_if(entries_,
                  [&](const auto& kv) { return now_ms - kv.second.counted_ms >= recount_ms_; });
    if (entries_.size() >= kMaxReceivers) return;  // all fresh: this one is counted each time
  }
  entries_[receiver] = Entry{pending + admitted, now_ms};
}

}  // namespace populi::control
