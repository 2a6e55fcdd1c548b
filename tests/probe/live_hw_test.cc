// Live hardware (MESH-052): the nvml probe on a real NVIDIA GPU must agree with nvidia-smi.
// Built only with -DPOPULI_LIVE_HW=ON; expects libnvidia-ml.so.1 and nvidia-smi on the machine.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "probe/probes.h"

namespace populi::probe {
namespace {

struct SmiGpu {
  std::string name, uuid;
  uint64_t total_mib = 0, used_mib = 0;
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.front() == ' ')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

std::vector<SmiGpu> NvidiaSmi() {
  std::vector<SmiGpu> out;
  FILE* p = popen(
      "nvidia-smi --query-gpu=name,uuid,memory.total,memory.used "
      "--format=csv,noheader,nounits",
      "r");
  if (p == nullptr) return out;
  char line[1024];
  while (std::fgets(line, sizeof(line), p) != nullptr) {
    std::stringstream in(line);
    std::string name, uuid, total, used;
    std::getline(in, name, ',');
    std::getline(in, uuid, ',');
    std::getline(in, total, ',');
    std::getline(in, used, ',');
    out.push_back({Trim(name), Trim(uuid), std::stoull(Trim(total)), std::stoull(Trim(used))});
  }
  pclose(p);
  return out;
}

TEST(LiveNvidia, NvmlProbeMatchesNvidiaSmi) {
  auto smi = NvidiaSmi();
  ASSERT_FALSE(smi.empty()) << "nvidia-smi listed no GPU";
  auto result = MakeNvmlProbe("libnvidia-ml.so.1", "/")->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound) << result.failure.message;
  ASSERT_EQ(result.gpus.size(), smi.size());
  for (size_t i = 0; i < smi.size(); ++i) {
    const auto& g = result.gpus[i];
    EXPECT_EQ(g.name, smi[i].name);
    EXPECT_EQ(g.uuid, smi[i].uuid);
    EXPECT_EQ(g.memory_total_bytes / (1024 * 1024), smi[i].total_mib);
    // Used memory moves; nvidia-smi itself holds a little while it runs.
    const uint64_t used_mib = g.memory_used_bytes / (1024 * 1024);
    const uint64_t diff =
        used_mib > smi[i].used_mib ? used_mib - smi[i].used_mib : smi[i].used_mib - used_mib;
    EXPECT_LE(diff, 512u) << "probe " << used_mib << " MiB vs nvidia-smi " << smi[i].used_mib;
    EXPECT_FALSE(g.driver_version.empty());
    EXPECT_FALSE(g.pci_bus_id.empty());
  }
}

TEST(LiveNvidia, DrmAndNvmlMergeIntoOneDevicePerGpu) {
  ProbeOptions options;
  options.order = {"nvml", "linux_drm"};
  auto probes = MakeProbes(options);
  ASSERT_TRUE(probes.ok());
  auto nvml = (*probes)[0]->Probe();
  auto drm = (*probes)[1]->Probe();
  ASSERT_EQ(nvml.outcome, ProbeOutcome::kFound);
  // Every GPU NVML sees, linux_drm (sysfs or /proc/driver/nvidia) sees at the same bus id.
  for (const auto& g : nvml.gpus) {
    bool seen = false;
    for (const auto& d : drm.gpus) seen = seen || d.pci_bus_id == g.pci_bus_id;
    EXPECT_TRUE(seen) << g.pci_bus_id;
  }
}

}  // namespace
}  // namespace populi::probe
