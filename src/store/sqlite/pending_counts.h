// Pending messages (state pending or claimed) per receiver, kept in memory so that the inbox cap
// check costs a hash lookup instead of counting index entries (O(pending) per deliver).
//
// Invariant: after the writer applied the delta of every committed transaction, Get(r) equals
// `SELECT count(*) FROM messages WHERE receiver = r AND state IN ('pending', 'claimed')`. Load()
// establishes it at open; each write function records what it changed in a PendingDelta, and the
// writer applies a batch's deltas only once that batch committed (a rolled-back write function's
// delta is dropped). Offline changes (repair, an older binary) are picked up by the next Load().
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/sqlite/db.h"
#include "util/status.h"

namespace populi::store::sqlite {

// Receiver → count, looked up by string_view without building a key string (Add runs on the
// writer for every delivery and ack, Get on a request thread for every deliver).
struct ReceiverHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using CountsByReceiver = std::unordered_map<std::string, int64_t, ReceiverHash, std::equal_to<>>;

// Change in pending messages per receiver made by uncommitted writes.
class PendingDelta {
 public:
  void Add(std::string_view receiver, int64_t n);
  void Merge(const PendingDelta& other);
  void Clear() { by_receiver_.clear(); }
  bool empty() const { return by_receiver_.empty(); }
  const CountsByReceiver& by_receiver() const { return by_receiver_; }

 private:
  CountsByReceiver by_receiver_;
};

class PendingCounts {
 public:
  // Replaces the counts with those of the committed table.
  Status Load(Db& db);
  int64_t Get(std::string_view receiver) const;
  // Every receiver with pending rows and its count.
  std::vector<std::pair<std::string, int64_t>> Snapshot() const;
  // Call once per committed transaction, with the deltas of the writes it committed.
  void Apply(const PendingDelta& delta);

 private:
  mutable std::mutex mu_;
  CountsByReceiver counts_;  // receivers with no pending rows are absent
};

}  // namespace populi::store::sqlite
