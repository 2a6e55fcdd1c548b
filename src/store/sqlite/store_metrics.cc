#include "store/sqlite/store_metrics.h"

#include <string_view>

namespace populi::store::sqlite {

StoreMetrics& StoreMetrics::Get() {
  static StoreMetrics* metrics = new StoreMetrics();  // lives as long as the registry
  return *metrics;
}

StoreMetrics::StoreMetrics()
    : batch_(obs::Registry::Default().Histograms(
          "populi_store_commit_batch_writes",
          "Write functions committed together in one store transaction (group commit).", {},
          obs::SizeBuckets())),
      fsync_(obs::Registry::Default().Histograms(
          "populi_store_fsync_seconds", "Time one fdatasync of the store's write-ahead log took.",
          {}, obs::LatencyBuckets())),
      fsync_failures_(obs::Registry::Default().Counters(
          "populi_store_fsync_failures_total",
          "Failed flushes of the store's write-ahead log (the store then refuses writes).")),
      events_(obs::Registry::Default().Counters(
          "populi_events_total", "Events committed to the store, by kind (docs/events.md).",
          {"kind"}, 256)),
      leases_(obs::Registry::Default().Counters(
          "populi_lease_transitions_total",
          "Lease transitions (task and exec leases): granted, renewed, released, completed, "
          "expired, revoked.",
          {"transition"}, 32)),
      nodes_(obs::Registry::Default().Counters(
          "populi_node_transitions_total",
          "Node state changes by event: joined, rejoined, alive, suspect, down, left, "
          "maintenance, quarantine.",
          {"event"}, 32)) {}

void StoreMetrics::Committed(size_t writes, const std::vector<std::string>& event_kinds) {
  batch_.Get().Observe(static_cast<double>(writes));
  for (const std::string& kind : event_kinds) {
    events_.With({kind}).Inc();
    const std::string_view k = kind;
    if (k.substr(0, 6) == "lease.") leases_.With({k.substr(6)}).Inc();
    if (k.substr(0, 5) == "node.") nodes_.With({k.substr(5)}).Inc();
  }
}

void StoreMetrics::Flushed(double seconds, bool ok) {
  fsync_.Get().Observe(seconds);
  if (!ok) fsync_failures_.Get().Inc();
}

}  // namespace populi::store::sqlite
