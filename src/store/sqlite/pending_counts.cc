#include "store/sqlite/pending_counts.h"

namespace populi::store::sqlite {

void PendingDelta::Add(std::string_view receiver, int64_t n) {
  if (n == 0) return;
  auto it = by_receiver_.find(receiver);
  if (it == by_receiver_.end()) {
    by_receiver_.emplace(std::string(receiver), n);
  } else if ((it->second += n) == 0) {
    by_receiver_.erase(it);
  }
}

void PendingDelta::Merge(const PendingDelta& other) {
  for (const auto& [receiver, n] : other.by_receiver_) Add(receiver, n);
}

Status PendingCounts::Load(Db& db) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare("SELECT receiver, count(*) FROM messages WHERE state IN ('pending', "
                            "'claimed') GROUP BY receiver"));
  CountsByReceiver counts;
  for (;;) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    counts.emplace(stmt.Text(0), stmt.Int(1));
  }
  std::lock_guard<std::mutex> guard(mu_);
  counts_ = std::move(counts);
  return Status::Ok();
}

int64_t PendingCounts::Get(std::string_view receiver) const {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = counts_.find(receiver);
  return it == counts_.end() ? 0 : it->second;
}

std::vector<std::pair<std::string, int64_t>> PendingCounts::Snapshot() const {
  std::lock_guard<std::mutex> guard(mu_);
  return {counts_.begin(), counts_.end()};
}

void PendingCounts::Apply(const PendingDelta& delta) {
  if (delta.empty()) return;
  std::lock_guard<std::mutex> guard(mu_);
  for (const auto& [receiver, n] : delta.by_receiver()) {
    auto it = counts_.find(receiver);
    const int64_t now = (it == counts_.end() ? 0 : it->second) + n;
    if (now <= 0) {
      if (it != counts_.end()) counts_.erase(it);
    } else if (it == counts_.end()) {
      counts_.emplace(receiver, now);
    } else {
      it->second = now;
    }
  }
}

}  // namespace populi::store::sqlite
