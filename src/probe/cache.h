// The probe cache (MESH-048, MESH-183): node records and heartbeats read hardware from here, not
// from a fresh probe (MESH-186, MESH-187). Thread-safe: one probe cycle at a time; readers never
// wait for a probe to finish.
#pragma once

#include <memory>
#include <mutex>

#include "mesh/types.h"
#include "probe/pipeline.h"
#include "util/clock.h"

namespace populi::probe {

// A report that recorded a failed probe expires after at most this long, so a failed probe is
// retried soon even with a long TTL (docs/probes.md).
inline constexpr int64_t kFailedProbeRetrySecs = 30;

class ProbeCache {
 public:
  // `ttl_secs` = 0 means every Get() probes.
  ProbeCache(ProbePipeline pipeline, const Clock& clock, int64_t ttl_secs);

  // The cached report, probing first when none exists or it has expired.
  std::shared_ptr<const ProbeReport> Get();
  // Probes now, replaces the cached report and returns it.
  std::shared_ptr<const ProbeReport> Refresh();
  // The cached report without probing; null before the first probe.
  std::shared_ptr<const ProbeReport> Peek() const;
  // True when Get() would probe.
  bool Expired() const;
  // How many probe cycles have run (for tests and metrics).
  int64_t cycles() const;

  // Copies the cached hardware (cpu, gpus, probe_failures) into `record` without probing.
  // Assignments reuse the record's existing storage, so refilling the same record with
  // unchanged hardware allocates nothing. Returns false (record untouched) before the first probe.
  bool FillNodeHardware(mesh::NodeRecord* record) const;

 private:
  bool ExpiredLocked(const ProbeReport* report) const;

  ProbePipeline pipeline_;
  const Clock* clock_;
  int64_t ttl_ms_;
  std::mutex probe_mu_;  // serialises probe cycles
  mutable std::mutex mu_;
  std::shared_ptr<const ProbeReport> report_;
  int64_t cycles_ = 0;
};

}  // namespace populi::probe
