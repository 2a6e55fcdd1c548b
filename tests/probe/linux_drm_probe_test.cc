// linux_drm on sysfs / procfs trees laid out in a temp dir (MESH-040).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "probe/probes.h"
#include "probe_test_util.h"

namespace populi::probe {
namespace {

using testing::AddDrmNode;
using testing::AddPciGpu;
using testing::TempDir;
using testing::WriteFile;

TEST(LinuxDrmProbe, AmdCardReportsVramFromDriverFiles) {
  TempDir root;
  auto dev = AddPciGpu(root, "card0", "0000:03:00.0", "0x1002", "0x744c", "amdgpu");
  WriteFile(dev + "/mem_info_vram_total", std::to_string(24 * kGiB) + "\n");
  WriteFile(dev + "/mem_info_vram_used", std::to_string(3 * kGiB) + "\n");
  AddDrmNode(root, "renderD128", dev);  // same GPU: must not count twice
  AddDrmNode(root, "card0-DP-1", dev);  // a connector: skipped

  auto result = MakeLinuxDrmProbe(root.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound) << result.detail << result.failure.message;
  ASSERT_EQ(result.gpus.size(), 1u);
  const auto& g = result.gpus[0];
  EXPECT_EQ(g.vendor, "amd");
  EXPECT_EQ(g.pci_bus_id, "0000:03:00.0");
  EXPECT_EQ(g.uuid, "1002:744c@0000:03:00.0");
  EXPECT_EQ(g.memory_total_bytes, 24 * kGiB);
  EXPECT_EQ(g.memory_used_bytes, 3 * kGiB);
  EXPECT_EQ(g.memory_free_bytes, 21 * kGiB);
  EXPECT_EQ(g.source, "linux_drm");
  EXPECT_NE(g.name.find("amdgpu"), std::string::npos) << g.name;
}

TEST(LinuxDrmProbe, NvidiaCardTakesModelAndDriverFromProcfs) {
  TempDir root;
  AddPciGpu(root, "card1", "0000:01:00.0", "0x10de", "0x2330", "nvidia");
  WriteFile(root / "proc/driver/nvidia/version",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC "
            "2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n");
  WriteFile(root / "proc/driver/nvidia/gpus/0000:01:00.0/information",
            "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 150\n");

  auto result = MakeLinuxDrmProbe(root.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound);
  ASSERT_EQ(result.gpus.size(), 1u);
  EXPECT_EQ(result.gpus[0].vendor, "nvidia");
  EXPECT_EQ(result.gpus[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(result.gpus[0].driver_version, "550.54.15");
  EXPECT_EQ(result.gpus[0].memory_total_bytes, 0u);  // sysfs has no VRAM figure for NVIDIA
}

TEST(LinuxDrmProbe, NvidiaWithoutDrmNodeIsFoundThroughProcfs) {
  TempDir root;
  std::filesystem::create_directories(root / "sys/class/drm");
  WriteFile(root / "proc/driver/nvidia/version",
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build\n");
  WriteFile(root / "proc/driver/nvidia/gpus/0000:41:00.0/information", "Model: \t NVIDIA L4\n");

  auto result = MakeLinuxDrmProbe(root.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound);
  ASSERT_EQ(result.gpus.size(), 1u);
  EXPECT_EQ(result.gpus[0].name, "NVIDIA L4");
  EXPECT_EQ(result.gpus[0].pci_bus_id, "0000:41:00.0");
  EXPECT_EQ(result.gpus[0].driver_version, "535.104.05");
}

TEST(LinuxDrmProbe, IntelIntegratedGpuHasNoDedicatedVram) {
  TempDir root;
  AddPciGpu(root, "card0", "0000:00:02.0", "0x8086", "0x46a6", "i915");
  auto result = MakeLinuxDrmProbe(root.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound);
  ASSERT_EQ(result.gpus.size(), 1u);
  EXPECT_EQ(result.gpus[0].vendor, "intel");
  EXPECT_EQ(result.gpus[0].pci_bus_id, "0000:00:02.0");
  EXPECT_EQ(result.gpus[0].memory_total_bytes, 0u);
  EXPECT_EQ(result.gpus[0].name, "Intel GPU [8086:46a6] (i915)");
}

TEST(LinuxDrmProbe, RenderOnlyNodeIsAGpu) {
  // Compute-only parts (and headless drivers) expose renderD* without any card*.
  TempDir root;
  auto dev = root / "sys/devices/pci0000:00/0000:c1:00.0";
  WriteFile(dev + "/vendor", "0x1002\n");
  WriteFile(dev + "/device", "0x740f\n");
  testing::Symlink(dev, root / "sys/class/drm/renderD128/device");
  auto result = MakeLinuxDrmProbe(root.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound);
  ASSERT_EQ(result.gpus.size(), 1u);
  EXPECT_EQ(result.gpus[0].pci_bus_id, "0000:c1:00.0");
}

TEST(LinuxDrmProbe, SeveralCardsAreListedInBusOrder) {
  TempDir root;
  AddPciGpu(root, "card1", "0000:03:00.0", "0x1002", "0x744c", "amdgpu");
  AddPciGpu(root, "card0", "0000:00:02.0", "0x8086", "0x46a6", "i915");
  auto result = MakeLinuxDrmProbe(root.path())->Probe();
  ASSERT_EQ(result.gpus.size(), 2u);
  EXPECT_EQ(result.gpus[0].pci_bus_id, "0000:00:02.0");
  EXPECT_EQ(result.gpus[1].pci_bus_id, "0000:03:00.0");
}

TEST(LinuxDrmProbe, EmptyTreeIsNoDeviceWithReason) {
  TempDir root;
  auto result = MakeLinuxDrmProbe(root.path())->Probe();
  EXPECT_EQ(result.outcome, ProbeOutcome::kNoDevice);
  EXPECT_NE(result.detail.find("sys/class/drm"), std::string::npos);
}

TEST(LinuxDrmProbe, UnreadableVendorFileIsPermissionDeniedNotNoGpu) {
  TempDir root;
  auto dev = AddPciGpu(root, "card0", "0000:03:00.0", "0x1002", "0x744c", "amdgpu");
  chmod((dev + "/vendor").c_str(), 0000);
  // Root reads any file, so the probe runs in a child that drops to an unprivileged user.
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipe_fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
    auto result = MakeLinuxDrmProbe(root.path())->Probe();
    std::string line = std::string(ToString(result.outcome)) + "|" + result.failure.kind + "|" +
                       result.failure.hint;
    ssize_t n = write(pipe_fds[1], line.data(), line.size());
    _exit(n == static_cast<ssize_t>(line.size()) ? 0 : 4);
  }
  close(pipe_fds[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(got.substr(0, got.find('|', 7)), "failed|permission_denied");
  EXPECT_NE(got.find("render"), std::string::npos) << got;  // the hint names the groups
}

TEST(LinuxDrmProbe, DirectoryInPlaceOfVendorFileIsAnError) {
  TempDir root;
  auto dev = root / "sys/devices/pci0000:00/0000:03:00.0";
  std::filesystem::create_directories(dev + "/vendor");
  testing::Symlink(dev, root / "sys/class/drm/card0/device");
  auto result = MakeLinuxDrmProbe(root.path())->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "error");
  EXPECT_FALSE(result.failure.hint.empty());
}

}  // namespace
}  // namespace populi::probe
