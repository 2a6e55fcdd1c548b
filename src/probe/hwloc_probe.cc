// hwloc: the CPU side of the node (model, cores, hardware threads, NUMA nodes, memory) from the
// real hwloc library, plus available memory from /proc/meminfo (hwloc knows only totals).
#include <hwloc.h>

#include <string>

#include "probe/probes.h"
#include "probe/sysfs.h"

namespace populi::probe {
namespace {

constexpr std::string_view kHwlocName = "hwloc";

uint64_t MemAvailableBytes() {
  int err = 0;
  auto text = internal::ReadSmallFile("/proc/meminfo", &err);
  if (!text) return 0;
  size_t pos = text->find("MemAvailable:");
  if (pos == std::string::npos) return 0;
  pos += sizeof("MemAvailable:") - 1;
  while (pos < text->size() && (*text)[pos] == ' ') ++pos;
  size_t end = pos;
  while (end < text->size() && (*text)[end] >= '0' && (*text)[end] <= '9') ++end;
  return internal::ParseDecimal(text->substr(pos, end - pos)).value_or(0) * 1024;  // kB
}

class HwlocProbe final : public HardwareProbe {
 public:
  std::string_view name() const override { return kHwlocName; }
  bool applicable() const override { return true; }

  ProbeResult Probe() override {
    hwloc_topology_t topo = nullptr;
    if (hwloc_topology_init(&topo) != 0) {
      return ProbeResult::Failed(kHwlocName, kFailureError, "hwloc_topology_init failed",
                                 "check the hwloc installation (apt install libhwloc15)");
    }
    if (hwloc_topology_load(topo) != 0) {
      hwloc_topology_destroy(topo);
      return ProbeResult::Failed(kHwlocName, kFailureError, "hwloc_topology_load failed",
                                 "check that /proc and /sys are mounted and readable");
    }
    mesh::CpuInfo cpu;
    auto count = [&](hwloc_obj_type_t type) {
      int n = hwloc_get_nbobjs_by_type(topo, type);
      return n > 0 ? static_cast<uint32_t>(n) : 0u;
    };
    cpu.cores = count(HWLOC_OBJ_CORE);
    cpu.threads = count(HWLOC_OBJ_PU);
    cpu.numa_nodes = count(HWLOC_OBJ_NUMANODE);
    if (cpu.cores == 0) cpu.cores = cpu.threads;
    if (cpu.numa_nodes == 0) cpu.numa_nodes = 1;
    hwloc_obj_t package = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    const char* model =
        package != nullptr ? hwloc_obj_get_info_by_name(package, "CPUModel") : nullptr;
    if (model == nullptr) model = hwloc_obj_get_info_by_name(root, "CPUModel");
    cpu.model = model != nullptr ? model : "unknown";
    cpu.memory_total_bytes = root->total_memory;
    hwloc_topology_destroy(topo);

    cpu.memory_available_bytes = MemAvailableBytes();
    if (cpu.memory_available_bytes > cpu.memory_total_bytes) {
      cpu.memory_available_bytes = cpu.memory_total_bytes;
    }
    return ProbeResult::FoundCpu(std::move(cpu));
  }
};

class PlatformOnlyProbe final : public HardwareProbe {
 public:
  PlatformOnlyProbe(std::string_view name, std::string_view os) : name_(name), os_(os) {}
  std::string_view name() const override { return name_; }
  bool applicable() const override { return false; }
  ProbeResult Probe() override {
    return ProbeResult::NotApplicable(std::string(name_) + " runs on " + std::string(os_) +
                                      " only");
  }

 private:
  std::string_view name_;
  std::string_view os_;
};

}  // namespace

std::unique_ptr<HardwareProbe> MakeHwlocProbe() {
  return std::make_unique<HwlocProbe>();
}

// This build targets Linux; the Windows / macOS implementations are listed in docs/probes.md.
std::unique_ptr<HardwareProbe> MakeDxgiProbe() {
  return std::make_unique<PlatformOnlyProbe>("dxgi", "Windows");
}
std::unique_ptr<HardwareProbe> MakeMetalProbe() {
  return std::make_unique<PlatformOnlyProbe>("metal", "macOS");
}

}  // namespace populi::probe
