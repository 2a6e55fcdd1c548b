// vulkan through its real dlopen / vkGetInstanceProcAddr path against a fake loader built by
// the tests (MESH-039).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "probe/probes.h"
#include "probe_test_util.h"

namespace populi::probe {
namespace {

using testing::AddPciGpu;
using testing::ReadAll;
using testing::TempDir;

class VulkanProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v :
         {"FAKE_VK_CREATE_RC", "FAKE_VK_NVIDIA", "FAKE_VK_NO_PCI", "FAKE_VK_NO_BUDGET"}) {
      unsetenv(v);
    }
    setenv("FAKE_VK_LOG", (root_ / "vk.log").c_str(), 1);
  }
  TempDir root_;
};

TEST_F(VulkanProbeTest, ReportsDeviceLocalHeapsAndBudgetAndSkipsCpuRenderers) {
  auto result = MakeVulkanProbe(FAKE_VULKAN_LIB, root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound) << result.failure.message;
  ASSERT_EQ(result.gpus.size(), 1u);  // llvmpipe skipped
  const auto& g = result.gpus[0];
  EXPECT_EQ(g.name, "Fake Radeon RX 7900 XTX");
  EXPECT_EQ(g.vendor, "amd");
  EXPECT_EQ(g.pci_bus_id, "0000:03:00.0");
  EXPECT_EQ(g.uuid, "1002:744c@0000:03:00.0");
  EXPECT_EQ(g.memory_total_bytes, 24 * kGiB);  // the host heap is not counted
  EXPECT_EQ(g.memory_used_bytes, 4 * kGiB);
  EXPECT_EQ(g.memory_free_bytes, 18 * kGiB);  // budget − usage
  EXPECT_EQ(g.source, "vulkan");
}

TEST_F(VulkanProbeTest, InstanceIsDestroyedAndLoaderReleased) {
  ASSERT_EQ(MakeVulkanProbe(FAKE_VULKAN_LIB, root_.path())->Probe().outcome, ProbeOutcome::kFound);
  EXPECT_EQ(ReadAll(root_ / "vk.log"), "create\ndestroy\n");
  EXPECT_EQ(ReadAll("/proc/self/maps").find("libfake_vulkan"), std::string::npos);
}

TEST_F(VulkanProbeTest, WithoutBudgetExtensionFreeIsTheHeapSize) {
  setenv("FAKE_VK_NO_BUDGET", "1", 1);
  auto result = MakeVulkanProbe(FAKE_VULKAN_LIB, root_.path())->Probe();
  ASSERT_EQ(result.gpus.size(), 1u);
  EXPECT_EQ(result.gpus[0].memory_used_bytes, 0u);
  EXPECT_EQ(result.gpus[0].memory_free_bytes, 24 * kGiB);
}

TEST_F(VulkanProbeTest, WithoutPciExtensionTheDeviceHasNoBusId) {
  setenv("FAKE_VK_NO_PCI", "1", 1);
  auto result = MakeVulkanProbe(FAKE_VULKAN_LIB, root_.path())->Probe();
  ASSERT_EQ(result.gpus.size(), 1u);
  EXPECT_EQ(result.gpus[0].pci_bus_id, "");
  EXPECT_EQ(result.gpus[0].uuid, "1002:744c@vulkan0");
}

TEST_F(VulkanProbeTest, NoDriverWithGpuHardwareIsDriverMismatch) {
  AddPciGpu(root_, "card0", "0000:03:00.0", "0x1002", "0x744c", "amdgpu");
  setenv("FAKE_VK_CREATE_RC", "-9", 1);
  auto result = MakeVulkanProbe(FAKE_VULKAN_LIB, root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "driver_mismatch");
  EXPECT_NE(result.failure.hint.find("mesa-vulkan-drivers"), std::string::npos);
}

TEST_F(VulkanProbeTest, NoDriverAndNoGpuIsNoDevice) {
  setenv("FAKE_VK_CREATE_RC", "-9", 1);
  EXPECT_EQ(MakeVulkanProbe(FAKE_VULKAN_LIB, root_.path())->Probe().outcome,
            ProbeOutcome::kNoDevice);
}

TEST_F(VulkanProbeTest, MissingLoaderWithGpuHardwareFailsWithHint) {
  AddPciGpu(root_, "card0", "0000:00:02.0", "0x8086", "0x46a6", "i915");
  auto result = MakeVulkanProbe(root_ / "missing/libvulkan.so.1", root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "library_missing");
  EXPECT_NE(result.failure.hint.find("libvulkan1"), std::string::npos);
}

TEST_F(VulkanProbeTest, NotAVulkanLoaderIsDriverMismatch) {
  auto result = MakeVulkanProbe(FAKE_NVML_LIB, root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "driver_mismatch");
}

}  // namespace
}  // namespace populi::probe
