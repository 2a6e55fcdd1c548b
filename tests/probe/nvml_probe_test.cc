// nvml through its real dlopen / dlsym path against a fake libnvidia-ml built by the tests
// (MESH-038, MESH-047).
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

class NvmlProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("FAKE_NVML_INIT_RC");
    unsetenv("FAKE_NVML_MIG");
    unsetenv("FAKE_NVML_MEMORY_V2");
    setenv("FAKE_NVML_GPUS", "2", 1);
    setenv("FAKE_NVML_LOG", (root_ / "nvml.log").c_str(), 1);
  }
  TempDir root_;
};

TEST_F(NvmlProbeTest, ReportsEveryDeviceField) {
  setenv("FAKE_NVML_MIG", "1", 1);
  auto result = MakeNvmlProbe(FAKE_NVML_LIB, root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound) << result.failure.message;
  ASSERT_EQ(result.gpus.size(), 2u);
  const auto& g = result.gpus[1];
  EXPECT_EQ(g.name, "Fake H100 80GB HBM3");
  EXPECT_EQ(g.uuid, "GPU-00000001-aaaa-bbbb-cccc-ddddeeeeffff");
  EXPECT_EQ(g.pci_bus_id, "0000:02:00.0");  // NVML's 8-digit domain normalised
  EXPECT_EQ(g.vendor, "nvidia");
  EXPECT_EQ(g.memory_total_bytes, 80 * kGiB);
  EXPECT_EQ(g.memory_used_bytes, 11 * kGiB);
  EXPECT_EQ(g.memory_free_bytes, 69 * kGiB);
  EXPECT_EQ(g.utilization_pct, 31u);
  EXPECT_EQ(g.temperature_c, 41u);
  EXPECT_EQ(g.driver_version, "550.54.15");
  EXPECT_EQ(g.cuda_driver_version, "12.4");
  EXPECT_EQ(g.source, "nvml");
  EXPECT_TRUE(result.gpus[0].mig_enabled);
  EXPECT_FALSE(result.gpus[1].mig_enabled);
}

// Seen on a live H200 (driver 580): v1 reported 615 MiB used on an idle GPU where nvidia-smi says
// 0 MiB; the difference is the driver's reservation, which v2 reports apart.
TEST_F(NvmlProbeTest, MemoryV2LeavesTheDriverReservationOutOfUsed) {
  setenv("FAKE_NVML_MEMORY_V2", "1", 1);
  auto result = MakeNvmlProbe(FAKE_NVML_LIB, root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound) << result.failure.message;
  const auto& g = result.gpus[1];
  EXPECT_EQ(g.memory_total_bytes, 80 * kGiB);
  EXPECT_EQ(g.memory_used_bytes, 11 * kGiB);
  EXPECT_EQ(g.memory_free_bytes, 80 * kGiB - kGiB / 2 - 11 * kGiB);
}

TEST_F(NvmlProbeTest, LibraryIsOpenedPerProbeAndReleased) {
  auto probe = MakeNvmlProbe(FAKE_NVML_LIB, root_.path());
  ASSERT_EQ(probe->Probe().outcome, ProbeOutcome::kFound);
  ASSERT_EQ(probe->Probe().outcome, ProbeOutcome::kFound);
  EXPECT_EQ(ReadAll(root_ / "nvml.log"), "init\nshutdown\ninit\nshutdown\n");
  // dlclose ran: the library is no longer mapped into the process.
  EXPECT_EQ(ReadAll("/proc/self/maps").find("libfake_nvml"), std::string::npos);
}

TEST_F(NvmlProbeTest, VersionMismatchIsDriverMismatchWithHint) {
  setenv("FAKE_NVML_INIT_RC", "18", 1);
  auto result = MakeNvmlProbe(FAKE_NVML_LIB, root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "driver_mismatch");
  EXPECT_EQ(result.failure.probe, "nvml");
  EXPECT_NE(result.failure.message.find("version mismatch"), std::string::npos)
      << result.failure.message;
  EXPECT_NE(result.failure.hint.find("reboot"), std::string::npos);
}

TEST_F(NvmlProbeTest, InitFailuresMapToKinds) {
  setenv("FAKE_NVML_INIT_RC", "4", 1);
  EXPECT_EQ(MakeNvmlProbe(FAKE_NVML_LIB, root_.path())->Probe().failure.kind, "permission_denied");
  setenv("FAKE_NVML_INIT_RC", "9", 1);
  auto result = MakeNvmlProbe(FAKE_NVML_LIB, root_.path())->Probe();
  EXPECT_EQ(result.failure.kind, "error");
  EXPECT_NE(result.failure.hint.find("modprobe"), std::string::npos);
}

TEST_F(NvmlProbeTest, ZeroDevicesIsNoDevice) {
  setenv("FAKE_NVML_GPUS", "0", 1);
  auto result = MakeNvmlProbe(FAKE_NVML_LIB, root_.path())->Probe();
  EXPECT_EQ(result.outcome, ProbeOutcome::kNoDevice);
  EXPECT_EQ(ReadAll(root_ / "nvml.log"), "init\nshutdown\n");
}

TEST_F(NvmlProbeTest, MissingLibraryWithNvidiaHardwareFailsWithHint) {
  AddPciGpu(root_, "card0", "0000:01:00.0", "0x10de", "0x2330", "nvidia");
  auto result = MakeNvmlProbe(root_ / "no/such/libnvidia-ml.so.1", root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "library_missing");
  EXPECT_NE(result.failure.hint.find("install"), std::string::npos);
}

TEST_F(NvmlProbeTest, MissingLibraryWithoutNvidiaHardwareIsNoDevice) {
  AddPciGpu(root_, "card0", "0000:03:00.0", "0x1002", "0x744c", "amdgpu");
  auto result = MakeNvmlProbe(root_ / "no/such/libnvidia-ml.so.1", root_.path())->Probe();
  EXPECT_EQ(result.outcome, ProbeOutcome::kNoDevice);
  EXPECT_NE(result.detail.find("no NVIDIA device"), std::string::npos);
}

TEST_F(NvmlProbeTest, LibraryWithoutV2EntryPointsIsDriverMismatch) {
  auto result = MakeNvmlProbe(FAKE_NVML_OLD_LIB, root_.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "driver_mismatch");
  EXPECT_NE(result.failure.message.find("nvmlInit_v2"), std::string::npos);
}

}  // namespace
}  // namespace populi::probe
