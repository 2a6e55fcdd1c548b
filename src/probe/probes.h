// The concrete probes and the options that configure them. Each factory returns a probe that
// runs its real code path; tests point the paths at fixtures (a sysfs tree in a temp dir, a
// shared library built by the tests, a JSON fixture file).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probe/probe.h"
#include "util/status.h"

namespace populi::probe {

// `[mesh.probe]` options plus the paths tests and demos override.
struct ProbeOptions {
  // Run order. The GPU merge does not depend on it (docs/probes.md); the first CPU probe wins.
  // Default as in the config schema (mesh.probe.order).
  std::vector<std::string> order = {"hwloc", "nvml", "linux_drm", "vulkan"};
  int64_t cache_ttl_secs = 300;
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string vulkan_library = "libvulkan.so.1";
  std::string sysfs_root = "/";  // linux_drm reads <root>/sys/class/drm and <root>/proc/driver
  std::string mock_fixture;      // JSON file read by the mock probe (docs/probes.md)
};

// Every name a probe order may contain.
const std::vector<std::string_view>& KnownProbeNames();

// Ok when `order` is non-empty, names only known probes and names none twice. The config check
// calls this for `mesh.probe.order`; the error names the offending entry and lists the choices.
Status ValidateProbeOrder(const std::vector<std::string>& order);

// Ok when the options are usable (order valid, ttl >= 0, a fixture set when mock is listed,
// a non-empty sysfs root). Invalid options give kInvalidArgument with a hint.
Status ValidateProbeOptions(const ProbeOptions& options);

// Builds the probes of `options.order`, in that order.
Result<std::vector<std::unique_ptr<HardwareProbe>>> MakeProbes(const ProbeOptions& options);

// Individual probes (the pipeline normally builds them through MakeProbes).
std::unique_ptr<HardwareProbe> MakeHwlocProbe();
// `library` is passed to dlopen as-is (a soname or a path). `sysfs_root` is used only to tell
// "no NVIDIA hardware" (NoDevice) from "NVIDIA hardware but no usable library" (Failed).
std::unique_ptr<HardwareProbe> MakeNvmlProbe(std::string library, std::string sysfs_root);
std::unique_ptr<HardwareProbe> MakeLinuxDrmProbe(std::string sysfs_root);
std::unique_ptr<HardwareProbe> MakeVulkanProbe(std::string library, std::string sysfs_root);
std::unique_ptr<HardwareProbe> MakeMockProbe(std::string fixture_path);
// Windows DXGI and macOS Metal: NotApplicable on every other OS.
std::unique_ptr<HardwareProbe> MakeDxgiProbe();
std::unique_ptr<HardwareProbe> MakeMetalProbe();

}  // namespace populi::probe
