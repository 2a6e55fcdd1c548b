// The inbox cap's count, kept off most deliveries when the count is a database query (several
// replicas on PostgreSQL): a count per deliver was a blocking round trip on an I/O thread and a
// statement on the server for every message.
//
// The rule: a deliver is admitted without counting while the receiver's last count, taken at
// most `recount_ms` ago, plus every message this process admitted to it since, plus the
// incoming ones stay within half the cap. Otherwise the caller counts and the gate starts over
// from that count. Acknowledgements only lower the real count, so within one process the
// estimate never falls below it; other replicas' deliveries since the last count are what it
// misses, and they would have to bring more than half the cap within `recount_ms` for a
// receiver to pass the cap. Near the cap every deliver is counted, as before.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace populi::control {

class InboxCapGate {
 public:
  InboxCapGate(int64_t cap, int64_t recount_ms) : cap_(cap), recount_ms_(recount_ms) {}

  // True (and `incoming` recorded as admitted) when `incoming` more messages to `receiver` are
  // within the cap by the rule above; false when the caller must count.
  bool AdmitWithoutCount(const std::string& receiver, int64_t incoming, int64_t now_ms);
  // A count just taken: `pending` rows, and `admitted` messages (0 when refused) on top.
  void Counted(const std::string& receiver, int64_t pending, int64_t admitted, int64_t now_ms);

  // Receivers remembered at most (beyond it, entries past recount_ms are dropped).
  static constexpr size_t kMaxReceivers = 4096;

 private:
  struct Entry {
    int64_t estimate = 0;  // the last count plus what was admitted since
    int64_t counted_ms = 0;
  };
  const int64_t cap_;
  const int64_t recount_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace populi::control
