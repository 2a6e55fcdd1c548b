#include "probe/probes.h"

#include <algorithm>

namespace populi::probe {

const std::vector<std::string_view>& KnownProbeNames() {
  static const std::vector<std::string_view> kNames = {"hwloc", "nvml", "linux_drm", "vulkan",
                                                       "mock",  "dxgi", "metal"};
  return kNames;
}

namespace {

std::string KnownList() {
  std::string list;
  for (auto name : KnownProbeNames()) {
    if (!list.empty()) list += ", ";
    list += name;
  }
  return list;
}

}  // namespace

Status ValidateProbeOrder(const std::vector<std::string>& order) {
  if (order.empty()) {
    return InvalidArgument("mesh.probe.order is empty: no hardware would be probed",
                           "list probes from: " + KnownList());
  }
  const auto& known = KnownProbeNames();
  for (size_t i = 0; i < order.size(); ++i) {
    if (std::find(known.begin(), known.end(), order[i]) == known.end()) {
      return InvalidArgument("mesh.probe.order: unknown probe \"" + order[i] + "\"",
                             "choose from: " + KnownList());
    }
    if (std::find(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(i), order[i]) !=
        order.begin() + static_cast<std::ptrdiff_t>(i)) {
      return InvalidArgument("mesh.probe.order: probe \"" + order[i] + "\" is listed twice",
                             "list each probe once");
    }
  }
  return Status::Ok();
}

Status ValidateProbeOptions(const ProbeOptions& options) {
  POPULI_RETURN_IF_ERROR(ValidateProbeOrder(options.order));
  if (options.cache_ttl_secs < 0) {
    return InvalidArgument(
        "mesh.probe.cache_ttl_secs must be >= 0, got " + std::to_string(options.cache_ttl_secs),
        "use 0 to probe on every read, or e.g. 300 (the default)");
  }
  const bool has_mock =
      std::find(options.order.begin(), options.order.end(), "mock") != options.order.end();
  if (has_mock && options.mock_fixture.empty()) {
    return InvalidArgument("the mock probe is listed but no fixture file is set",
                           "pass --fixture FILE, or remove mock from mesh.probe.order");
  }
  if (options.sysfs_root.empty()) {
    return InvalidArgument("the sysfs root is empty", "use / (the default) or a directory");
  }
  return Status::Ok();
}

Result<std::vector<std::unique_ptr<HardwareProbe>>> MakeProbes(const ProbeOptions& options) {
  POPULI_RETURN_IF_ERROR(ValidateProbeOptions(options));
  std::vector<std::unique_ptr<HardwareProbe>> probes;
  for (const auto& name : options.order) {
    if (name == "hwloc") {
      probes.push_back(MakeHwlocProbe());
    } else if (name == "nvml") {
      probes.push_back(MakeNvmlProbe(options.nvml_library, options.sysfs_root));
    } else if (name == "linux_drm") {
      probes.push_back(MakeLinuxDrmProbe(options.sysfs_root));
    } else if (name == "vulkan") {
      probes.push_back(MakeVulkanProbe(options.vulkan_library, options.sysfs_root));
    } else if (name == "mock") {
      probes.push_back(MakeMockProbe(options.mock_fixture));
    } else if (name == "dxgi") {
      probes.push_back(MakeDxgiProbe());
    } else if (name == "metal") {
      probes.push_back(MakeMetalProbe());
    }
  }
  return probes;
}

}  // namespace populi::probe
