// Capacity layers: Layer B arithmetic, and Layer C hints that never add capacity (MESH-049).
#include <gtest/gtest.h>

#include "probe/probe_test_util.h"

#include <cstdlib>
#include <map>

#include "probe/capacity.h"

namespace populi::probe {
namespace {

ProbeReport TwoGpuReport() {
  ProbeReport r;
  for (int i = 0; i < 2; ++i) {
    mesh::GpuDevice g;
    g.uuid = "GPU-" + std::to_string(i);
    g.name = "NVIDIA H100 80GB HBM3";
    g.source = "nvml";
    g.confirmed_by = {"nvml"};
    g.memory_total_bytes = 80 * kGiB;
    g.memory_free_bytes = 70 * kGiB;
    g.memory_used_bytes = 10 * kGiB;
    r.gpus.push_back(g);
  }
  mesh::CpuInfo cpu;
  cpu.cores = 16;
  cpu.memory_available_bytes = 64 * kGiB;
  r.cpu = cpu;
  return r;
}

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(Capacity, LayerBIsFreeMinusTaskReservationsMinusDonationReserve) {
  std::vector<TaskReservation> running = {
      {"t1", "GPU-0", 20 * kGiB, 4, 8 * kGiB},
      {"t2", "GPU-0", 5 * kGiB, 2, 0},
      {"t3", "", 0, 1, 2 * kGiB},
  };
  DonationReserve reserve{8 * kGiB, 2, 16 * kGiB};
  NodeCapacity cap = ComputeCapacity(TwoGpuReport(), running, reserve, {});
  ASSERT_EQ(cap.gpus.size(), 2u);
  EXPECT_EQ(cap.gpus[0].task_reserved_bytes, 25 * kGiB);
  EXPECT_EQ(cap.gpus[0].allocatable_bytes, (70 - 25 - 8) * kGiB);
  EXPECT_EQ(cap.gpus[1].allocatable_bytes, (70 - 8) * kGiB);
  EXPECT_EQ(cap.cpu_cores_allocatable, 16u - 7u - 2u);
  EXPECT_EQ(cap.memory_allocatable, (64 - 10 - 16) * kGiB);
}

TEST(Capacity, AllocatableFloorsAtZeroAndStaleReservationsAreReported) {
  std::vector<TaskReservation> running = {{"big", "GPU-1", 100 * kGiB, 64, 0},
                                          {"ghost", "GPU-9", 1 * kGiB, 0, 0}};
  NodeCapacity cap = ComputeCapacity(TwoGpuReport(), running, {}, {});
  EXPECT_EQ(cap.gpus[1].allocatable_bytes, 0u);
  EXPECT_EQ(cap.cpu_cores_allocatable, 0u);
  ASSERT_EQ(cap.unmatched_reservations.size(), 1u);
  EXPECT_EQ(cap.unmatched_reservations[0], "ghost on GPU-9");
}

TEST(Capacity, AdvertisedFlagsAndLabelsNeverAddCapacity) {
  ProbeReport empty;  // no GPU probed
  AdvertisedHints hints = ReadAdvertisedHints(Env({{"VOX_MESH_ADVERTISE_GPU", "1"},
                                                   {"VOX_GPU_MODEL", "RTX 4090"},
                                                   {"VOX_GPU_VRAM_MB", "24576"}}),
                                              {{"gpu", "rtx4090"}, {"vram", "24G"}});
  NodeCapacity cap = ComputeCapacity(empty, {}, {}, hints);
  EXPECT_TRUE(cap.gpus.empty());
  mesh::NodeRecord record;
  ApplyCapacity(cap, hints, &record);
  EXPECT_TRUE(record.gpus.empty());
  EXPECT_EQ(record.labels.at("gpu"), "rtx4090");  // kept as a hint
  EXPECT_EQ(record.gpu_inventory_source, "probed");
  EXPECT_EQ(record.gpu_truth_layer, "layer_b_allocatable");
  // Every claim the probes cannot back is a conflict for doctor.
  ASSERT_EQ(cap.conflicts.size(), 3u);
  EXPECT_EQ(cap.conflicts[0].flag, "VOX_MESH_ADVERTISE_GPU");
  EXPECT_EQ(cap.conflicts[0].probed, "0 GPUs");
  EXPECT_EQ(cap.conflicts[1].flag, "VOX_GPU_MODEL");
  EXPECT_EQ(cap.conflicts[2].flag, "VOX_GPU_VRAM_MB");
}

TEST(Capacity, ConsistentFlagsRaiseNoConflictAndVramToleranceIsFivePercent) {
  AdvertisedHints hints = ReadAdvertisedHints(Env({{"VOX_MESH_ADVERTISE_GPU", "true"},
                                                   {"VOX_GPU_MODEL", "h100"},
                                                   {"VOX_GPU_VRAM_MB", "80000"}}));
  EXPECT_TRUE(ComputeCapacity(TwoGpuReport(), {}, {}, hints).conflicts.empty());
  hints.gpu_vram_mb = 40960;
  auto conflicts = ComputeCapacity(TwoGpuReport(), {}, {}, hints).conflicts;
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].probed, "81920 MiB on the largest GPU");
}

TEST(Capacity, ProbeFailuresAreNamedInTheConflict) {
  ProbeReport r;
  r.failures.push_back({"nvml", "library_missing", "cannot load", "install"});
  auto hints = ReadAdvertisedHints(Env({{"VOX_MESH_ADVERTISE_GPU", "1"}}));
  auto conflicts = ComputeCapacity(r, {}, {}, hints).conflicts;
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].probed, "0 GPUs (nvml failed: library_missing)");
}

TEST(Capacity, VulkanWebgpuNpuFlagsAndBadValues) {
  auto hints = ReadAdvertisedHints(Env({{"VOX_MESH_ADVERTISE_VULKAN", "yes"},
                                        {"VOX_MESH_ADVERTISE_NPU", "on"},
                                        {"VOX_MESH_ADVERTISE_WEBGPU", "maybe"},
                                        {"VOX_GPU_VRAM_MB", "12G"}}));
  EXPECT_EQ(hints.vulkan, true);
  EXPECT_FALSE(hints.webgpu.has_value());
  EXPECT_FALSE(hints.gpu_vram_mb.has_value());
  ASSERT_EQ(hints.parse_errors.size(), 2u);
  auto conflicts = ComputeCapacity(TwoGpuReport(), {}, {}, hints).conflicts;
  // vulkan not seen by the vulkan probe, NPU unverifiable, two unreadable flags.
  ASSERT_EQ(conflicts.size(), 4u);
  EXPECT_EQ(conflicts[0].flag, "VOX_MESH_ADVERTISE_VULKAN");
  EXPECT_EQ(conflicts[1].flag, "VOX_MESH_ADVERTISE_NPU");
  EXPECT_EQ(conflicts[2].flag, "VOX_MESH_ADVERTISE_WEBGPU");
  EXPECT_EQ(conflicts[2].advertised, "unreadable");
}

TEST(Capacity, ProcessEnvReadsTheRealEnvironment) {
  setenv("VOX_GPU_MODEL", "A100", 1);
  EXPECT_EQ(ReadAdvertisedHints(ProcessEnv()).gpu_model, "A100");
  unsetenv("VOX_GPU_MODEL");
  EXPECT_EQ(ReadAdvertisedHints(ProcessEnv()).gpu_model, "");
}

TEST(Capacity, ApplyWritesLayerBIntoTheRecordByUuid) {
  ProbeReport r = TwoGpuReport();
  mesh::NodeRecord record;
  record.gpus = r.gpus;
  NodeCapacity cap = ComputeCapacity(r, {{"t", "GPU-1", 30 * kGiB, 0, 0}}, {}, {});
  ApplyCapacity(cap, {}, &record);
  EXPECT_EQ(record.gpus[0].memory_allocatable_bytes, 70 * kGiB);
  EXPECT_EQ(record.gpus[1].memory_allocatable_bytes, 40 * kGiB);
  EXPECT_EQ(record.gpus[1].memory_total_bytes, 80 * kGiB);  // Layer A untouched
}

}  // namespace
}  // namespace populi::probe
