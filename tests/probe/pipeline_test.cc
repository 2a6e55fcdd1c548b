// The pipeline: order validation, attempts as structured events, the GPU merge rule, and the
// full set of real probes on one fixture machine.
#include <gtest/gtest.h>

#include <cstdlib>

#include "probe/pipeline.h"
#include "probe/probes.h"
#include "probe/report_json.h"
#include "probe_test_util.h"
#include "util/clock.h"

namespace populi::probe {
namespace {

using testing::AddPciGpu;
using testing::TempDir;
using testing::WriteFile;

TEST(ValidateProbeOrder, AcceptsKnownNamesOnce) {
  EXPECT_TRUE(ValidateProbeOrder({"hwloc", "nvml", "linux_drm", "vulkan"}).ok());
  EXPECT_TRUE(ValidateProbeOrder({"mock", "dxgi", "metal"}).ok());
}

TEST(ValidateProbeOrder, RejectsUnknownDuplicateAndEmpty) {
  Status unknown = ValidateProbeOrder({"hwloc", "cuda"});
  EXPECT_EQ(unknown.code(), Code::kInvalidArgument);
  EXPECT_NE(unknown.message().find("\"cuda\""), std::string::npos);
  EXPECT_NE(unknown.hint().find("linux_drm"), std::string::npos);  // lists the choices
  Status twice = ValidateProbeOrder({"nvml", "nvml"});
  EXPECT_NE(twice.message().find("twice"), std::string::npos);
  EXPECT_EQ(ValidateProbeOrder({}).code(), Code::kInvalidArgument);
}

TEST(ValidateProbeOptions, MockNeedsAFixtureAndTtlIsNonNegative) {
  ProbeOptions o;
  o.order = {"mock"};
  EXPECT_EQ(ValidateProbeOptions(o).code(), Code::kInvalidArgument);
  o.mock_fixture = "/tmp/x.json";
  EXPECT_TRUE(ValidateProbeOptions(o).ok());
  o.cache_ttl_secs = -1;
  EXPECT_EQ(ValidateProbeOptions(o).code(), Code::kInvalidArgument);
  EXPECT_FALSE(MakeProbes(o).ok());
}

mesh::GpuDevice Gpu(std::string source, std::string bus, std::string name, uint64_t total = 0,
                    uint64_t free = 0) {
  mesh::GpuDevice g;
  g.source = std::move(source);
  g.pci_bus_id = std::move(bus);
  g.name = std::move(name);
  g.uuid = g.source + ":" + g.name;
  g.vendor = "nvidia";
  g.memory_total_bytes = total;
  g.memory_free_bytes = free;
  g.memory_used_bytes = total - free;
  return g;
}

TEST(MergeGpus, SameBusIdIsOneDeviceWithNvmlIdentityAndBothSources) {
  auto drm = Gpu("linux_drm", "0000:01:00.0", "NVIDIA GPU [10de:2330]");
  drm.driver_version = "550.54.15";
  auto nvml = Gpu("nvml", "00000000:01:00.0", "NVIDIA H100", 80 * kGiB, 70 * kGiB);
  nvml.uuid = "GPU-abc";
  nvml.temperature_c = 40;
  auto merged = MergeGpus({{drm}, {nvml}});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].name, "NVIDIA H100");
  EXPECT_EQ(merged[0].uuid, "GPU-abc");
  EXPECT_EQ(merged[0].source, "nvml");
  EXPECT_EQ(merged[0].pci_bus_id, "0000:01:00.0");
  EXPECT_EQ(merged[0].memory_free_bytes, 70 * kGiB);
  EXPECT_EQ(merged[0].temperature_c, 40u);
  EXPECT_EQ(merged[0].confirmed_by, (std::vector<std::string>{"nvml", "linux_drm"}));
}

TEST(MergeGpus, ResultDoesNotDependOnProbeOrder) {
  auto drm = Gpu("linux_drm", "0000:03:00.0", "AMD GPU [1002:744c]", 24 * kGiB, 21 * kGiB);
  auto vk = Gpu("vulkan", "0000:03:00.0", "Radeon RX 7900 XTX", 24 * kGiB, 18 * kGiB);
  auto other = Gpu("vulkan", "0000:04:00.0", "Second card", 8 * kGiB, 8 * kGiB);
  auto a = MergeGpus({{drm}, {vk, other}});
  auto b = MergeGpus({{vk, other}, {drm}});
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].memory_free_bytes, b[i].memory_free_bytes);
  }
  // Name from Vulkan (a real product name), memory from the driver's device-wide figure.
  EXPECT_EQ(a[0].name, "Radeon RX 7900 XTX");
  EXPECT_EQ(a[0].memory_free_bytes, 21 * kGiB);
}

TEST(MergeGpus, DeviceWithoutBusIdJoinsTheOnlyCandidateOrIsDropped) {
  auto nvml0 = Gpu("nvml", "0000:01:00.0", "H100 a", 80 * kGiB, 80 * kGiB);
  auto vk_nobus = Gpu("vulkan", "", "H100 (vulkan)", 80 * kGiB, 80 * kGiB);
  auto one = MergeGpus({{nvml0}, {vk_nobus}});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].confirmed_by, (std::vector<std::string>{"nvml", "vulkan"}));

  auto nvml1 = Gpu("nvml", "0000:02:00.0", "H100 b", 80 * kGiB, 80 * kGiB);
  auto ambiguous = MergeGpus({{nvml0, nvml1}, {vk_nobus}});
  EXPECT_EQ(ambiguous.size(), 2u);  // never double counted

  auto alone = Gpu("mock", "", "Lonely", 1 * kGiB, 1 * kGiB);
  alone.vendor = "intel";
  EXPECT_EQ(MergeGpus({{nvml0}, {alone}}).size(), 2u);  // a vendor no one else saw
}

class CountingProbe final : public HardwareProbe {
 public:
  CountingProbe(std::string name, ProbeResult result, bool applicable = true)
      : name_(std::move(name)), result_(std::move(result)), applicable_(applicable) {}
  std::string_view name() const override { return name_; }
  bool applicable() const override { return applicable_; }
  ProbeResult Probe() override {
    ++calls;
    return result_;
  }
  int calls = 0;

 private:
  std::string name_;
  ProbeResult result_;
  bool applicable_;
};

TEST(ProbePipeline, EveryAttemptIsAnEventAndFailuresAreCarried) {
  std::vector<std::unique_ptr<HardwareProbe>> probes;
  probes.push_back(std::make_unique<CountingProbe>(
      "nvml", ProbeResult::Failed("nvml", "library_missing", "cannot load", "install it")));
  auto* skipped = new CountingProbe("dxgi", ProbeResult::NoDevice("x"), /*applicable=*/false);
  probes.emplace_back(skipped);
  probes.push_back(std::make_unique<CountingProbe>(
      "linux_drm", ProbeResult::FoundGpus({Gpu("linux_drm", "0000:01:00.0", "G")})));
  ManualClock clock(1'000);
  std::vector<boost::json::object> events;
  ProbePipeline pipeline(std::move(probes), clock,
                         [&](const ProbeAttempt& a) { events.push_back(AttemptToJson(a)); });
  ProbeReport report = pipeline.Run();

  EXPECT_EQ(skipped->calls, 0);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].at("vox.mesh.probe.name"), "nvml");
  EXPECT_EQ(events[0].at("outcome"), "failed");
  EXPECT_EQ(events[0].at("error"), "cannot load");
  EXPECT_TRUE(events[0].at("duration_ms").is_double());
  EXPECT_EQ(events[1].at("outcome"), "not_applicable");
  EXPECT_EQ(events[2].at("outcome"), "found");
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0].hint, "install it");
  EXPECT_EQ(report.gpus.size(), 1u);  // a failed probe does not hide the others' GPUs
  EXPECT_EQ(report.probed_at_ms, 1'000);
  const std::string summary = SummaryLine(report);
  EXPECT_NE(summary.find("gpus=1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("failures=nvml:library_missing"), std::string::npos) << summary;
}

TEST(ProbePipeline, DxgiAndMetalAreNotApplicableOnLinux) {
  EXPECT_FALSE(MakeDxgiProbe()->applicable());
  EXPECT_FALSE(MakeMetalProbe()->applicable());
  EXPECT_EQ(MakeMetalProbe()->Probe().outcome, ProbeOutcome::kNotApplicable);
}

// One fixture machine: two NVIDIA GPUs seen by NVML and DRM, an AMD card seen by DRM and
// Vulkan; every probe runs its real code path.
TEST(ProbePipeline, RealProbesOnAFixtureMachineMergeByBusId) {
  TempDir root;
  AddPciGpu(root, "card0", "0000:01:00.0", "0x10de", "0x2330", "nvidia");
  AddPciGpu(root, "card1", "0000:02:00.0", "0x10de", "0x2330", "nvidia");
  auto amd = AddPciGpu(root, "card2", "0000:03:00.0", "0x1002", "0x744c", "amdgpu");
  WriteFile(amd + "/mem_info_vram_total", std::to_string(24 * kGiB));
  WriteFile(amd + "/mem_info_vram_used", std::to_string(2 * kGiB));
  WriteFile(root / "proc/driver/nvidia/version",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\n");
  setenv("FAKE_NVML_GPUS", "2", 1);
  unsetenv("FAKE_NVML_INIT_RC");
  unsetenv("FAKE_VK_CREATE_RC");
  setenv("FAKE_VK_NVIDIA", "1", 1);

  ProbeOptions options;
  options.order = {"hwloc", "linux_drm", "vulkan", "nvml", "dxgi"};
  options.sysfs_root = root.path();
  options.nvml_library = FAKE_NVML_LIB;
  options.vulkan_library = FAKE_VULKAN_LIB;
  auto probes = MakeProbes(options);
  ASSERT_TRUE(probes.ok()) << probes.status().ToString();
  ProbePipeline pipeline(std::move(*probes), SystemClock::Instance(), nullptr);
  ProbeReport report = pipeline.Run();

  ASSERT_TRUE(report.failures.empty()) << report.failures[0].message;
  ASSERT_TRUE(report.cpu.has_value());
  ASSERT_EQ(report.gpus.size(), 3u);
  EXPECT_EQ(report.gpus[0].uuid, "GPU-00000000-aaaa-bbbb-cccc-ddddeeeeffff");
  EXPECT_EQ(report.gpus[0].confirmed_by, (std::vector<std::string>{"nvml", "vulkan", "linux_drm"}));
  EXPECT_EQ(report.gpus[0].memory_total_bytes, 80 * kGiB);
  EXPECT_EQ(report.gpus[0].memory_used_bytes, 10 * kGiB);  // NVML's figure, not Vulkan's
  EXPECT_EQ(report.gpus[1].confirmed_by, (std::vector<std::string>{"nvml", "linux_drm"}));
  EXPECT_EQ(report.gpus[2].name, "Fake Radeon RX 7900 XTX");
  EXPECT_EQ(report.gpus[2].memory_free_bytes, 22 * kGiB);  // amdgpu's device-wide figure
  ASSERT_EQ(report.attempts.size(), 5u);
  EXPECT_EQ(report.attempts[4].outcome, ProbeOutcome::kNotApplicable);
}

}  // namespace
}  // namespace populi::probe
