// What the SQLite backend records in the process's metric registry (docs/metrics.md): commit
// batch sizes, log flush times, and committed events by kind (with lease and node transitions
// broken out, the MESH-024 / MESH-124 counters).
#pragma once

#include <string>
#include <vector>

#include "obs/metrics.h"

namespace populi::store::sqlite {

class StoreMetrics {
 public:
  static StoreMetrics& Get();

  // One physical transaction committed `writes` write functions that appended `event_kinds`.
  void Committed(size_t writes, const std::vector<std::string>& event_kinds);
  // One fdatasync of the log took `seconds`; `ok` false when it failed.
  void Flushed(double seconds, bool ok);

 private:
  StoreMetrics();
  obs::HistogramFamily& batch_;
  obs::HistogramFamily& fsync_;
  obs::CounterFamily& fsync_failures_;
  obs::CounterFamily& events_;
  obs::CounterFamily& leases_;
  obs::CounterFamily& nodes_;
};

}  // namespace populi::store::sqlite
