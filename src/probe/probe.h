// The hardware probe contract (MESH-050). A probe inspects one source of hardware truth (a
// library, a kernel interface, a fixture) and answers exactly one of four outcomes:
//
//   NotApplicable  this probe cannot run on this OS / build (e.g. dxgi on Linux)
//   NoDevice       the probe ran and found nothing it covers (no GPU of its kind)
//   Found          devices (GPUs) and/or the CPU description
//   Failed         the probe could not tell: library missing, permission denied, driver
//                  mismatch, other error. Always carries a remediation hint; a failure is never
//                  turned into "no GPU" (MESH-044) and the probe is run again on the next cycle.
//
// Probes are not thread-safe; the pipeline runs them one at a time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/types.h"

namespace populi::probe {

enum class ProbeOutcome { kNotApplicable, kNoDevice, kFound, kFailed };

// "not_applicable" | "no_device" | "found" | "failed".
std::string_view ToString(ProbeOutcome outcome);

// Failure kinds carried in mesh::ProbeFailure::kind (closed vocabulary, docs/probes.md).
inline constexpr std::string_view kFailureLibraryMissing = "library_missing";
inline constexpr std::string_view kFailurePermissionDenied = "permission_denied";
inline constexpr std::string_view kFailureDriverMismatch = "driver_mismatch";
inline constexpr std::string_view kFailureError = "error";

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::kNoDevice;
  std::vector<mesh::GpuDevice> gpus;  // Found: each with `source` set to the probe's name
  std::optional<mesh::CpuInfo> cpu;   // Found by a CPU probe (hwloc, mock)
  mesh::ProbeFailure failure;         // Failed: probe, kind, message, hint all set
  std::string detail;                 // NotApplicable / NoDevice: one line saying why

  static ProbeResult NotApplicable(std::string why);
  static ProbeResult NoDevice(std::string why);
  static ProbeResult FoundGpus(std::vector<mesh::GpuDevice> gpus);
  static ProbeResult FoundCpu(mesh::CpuInfo cpu);
  static ProbeResult Failed(std::string_view probe, std::string_view kind, std::string message,
                            std::string hint);
};

class HardwareProbe {
 public:
  virtual ~HardwareProbe() = default;
  // Stable name used in config (`mesh.probe.order`), events and reports: "nvml", "linux_drm" …
  virtual std::string_view name() const = 0;
  // False when the probe cannot run on this OS / build; Probe() is then not called.
  virtual bool applicable() const = 0;
  // Runs one probe. Must not throw; must release what it opened (libraries, files) before
  // returning (MESH-047).
  virtual ProbeResult Probe() = 0;
};

}  // namespace populi::probe
