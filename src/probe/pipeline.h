// The probe pipeline: runs the configured probes in order, records every attempt, and merges
// what they found into one inventory (docs/probes.md, "Merge rule").
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mesh/types.h"
#include "probe/probe.h"
#include "util/clock.h"

namespace spdlog {
class logger;
}

namespace populi::probe {

// One probe run. Emitted as a structured event / log line with the keys
// vox.mesh.probe.name, outcome, duration_ms, error (MESH-129).
struct ProbeAttempt {
  std::string probe;
  ProbeOutcome outcome = ProbeOutcome::kNoDevice;
  double duration_ms = 0;  // wall time of this probe (steady clock)
  size_t gpus_found = 0;
  std::string detail;  // not_applicable / no_device: why
  std::string error;   // failed: the failure message ("" otherwise)
};

// What one pipeline cycle saw.
struct ProbeReport {
  int64_t probed_at_ms = 0;  // Unix ms from the pipeline's Clock
  double duration_ms = 0;    // the whole cycle
  std::optional<mesh::CpuInfo> cpu;
  std::vector<mesh::GpuDevice> gpus;         // merged, sorted by PCI bus id then uuid
  std::vector<mesh::ProbeFailure> failures;  // one per failed probe, with hints
  std::vector<ProbeAttempt> attempts;        // in run order, one per probe
};

using AttemptSink = std::function<void(const ProbeAttempt&)>;

// Logs one attempt at INFO (WARN when failed) as key=value pairs through spdlog.
void LogAttempt(const ProbeAttempt& attempt);

class ProbePipeline {
 public:
  // Probes run in the given order. `sink` sees every attempt as it finishes (null = none).
  ProbePipeline(std::vector<std::unique_ptr<HardwareProbe>> probes, const Clock& clock,
                AttemptSink sink = LogAttempt);
  ProbePipeline(ProbePipeline&&) = default;
  ProbePipeline& operator=(ProbePipeline&&) = default;

  // Runs every probe once (NotApplicable ones are recorded without being called) and merges.
  ProbeReport Run();

 private:
  std::vector<std::unique_ptr<HardwareProbe>> probes_;
  const Clock* clock_;
  AttemptSink sink_;
};

// Merges GPU lists from several probes into one: devices with the same PCI bus id are one
// device; fields come from the most authoritative source that has them (docs/probes.md). The
// result does not depend on the order of `found`. Each device's `confirmed_by` lists every
// probe that saw it.
std::vector<mesh::GpuDevice> MergeGpus(const std::vector<std::vector<mesh::GpuDevice>>& found);

// One line: what this node thinks it has (MESH-045), e.g.
// "hardware: cpu=AMD EPYC 7443 cores=24 threads=48 numa=1 mem=251.5GiB gpus=2 [NVIDIA H100
// 80GB HBM3 79.6GiB (71.0GiB free) via nvml+linux_drm, …] failures=vulkan:library_missing".
std::string SummaryLine(const ProbeReport& report);

// Logs SummaryLine to `logger` at INFO (WARN when any probe failed). The agent calls it once,
// after the first probe at start-up (MESH-045).
void LogSummary(const ProbeReport& report, spdlog::logger& logger);

}  // namespace populi::probe
