// `vox populi probe` on the real binary: --json report, the human table, the on-disk cache and
// --refresh, and usage errors.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

#include "probe/probe_test_util.h"

namespace populi::probe {
namespace {

using testing::AddPciGpu;
using testing::TempDir;
using testing::WriteFile;

struct VoxRun {
  int exit_code = -1;
  std::string out;
};

class CliProbeTest : public ::testing::Test {
 protected:
  // Runs vox in the temp dir with VOX_HOME inside it (no user or workspace config leaks in).
  VoxRun Vox(const std::string& args, bool merge_stderr = false) {
    const char* bin = std::getenv("VOX_BIN");
    EXPECT_NE(bin, nullptr);
    std::string cmd = "cd '" + dir_.path() + "' && env -u VOX_MESH_PROBE_ORDER VOX_HOME='" +
                      (dir_ / "home") + "' '" + bin + "' populi probe " + args +
                      (merge_stderr ? " 2>&1" : " 2>/dev/null");
    VoxRun run;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return run;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) run.out.append(buf, n);
    int status = pclose(p);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  boost::json::object Json(const VoxRun& run) {
    boost::system::error_code ec;
    auto v = boost::json::parse(run.out, ec);
    EXPECT_FALSE(ec) << run.out;
    return !ec && v.is_object() ? v.as_object() : boost::json::object();
  }

  void WriteFixture(const std::string& gpu_name) {
    WriteFile(dir_ / "gpus.json",
              R"({"cpu": {"model": "Demo CPU", "cores": 4, "threads": 8, "numa_nodes": 1},
                  "gpus": [{"name": ")" +
                  gpu_name + R"(", "vendor": "nvidia", "pci_bus_id": "0000:01:00.0",
                  "memory_total_bytes": 85899345920, "memory_used_bytes": 10737418240}]})");
  }

  TempDir dir_;
};

TEST_F(CliProbeTest, JsonIsTheFullReport) {
  WriteFixture("Demo H100");
  VoxRun run = Vox("--json --fixture gpus.json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  auto o = Json(run);
  ASSERT_TRUE(o.contains("gpus"));
  const auto& gpus = o.at("gpus").as_array();
  ASSERT_EQ(gpus.size(), 1u);
  EXPECT_EQ(gpus[0].at("name"), "Demo H100");
  EXPECT_EQ(gpus[0].at("memory_free_bytes").to_number<uint64_t>(), 75161927680u);
  EXPECT_EQ(o.at("cpu").at("model"), "Demo CPU");
  const auto& attempts = o.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].at("vox.mesh.probe.name"), "mock");
  EXPECT_TRUE(attempts[0].as_object().contains("duration_ms"));
  EXPECT_EQ(o.at("cache_ttl_secs").to_number<int64_t>(), 300);
}

TEST_F(CliProbeTest, CachedReportIsReusedUntilRefresh) {
  WriteFixture("First GPU");
  auto first = Json(Vox("--json --fixture gpus.json"));
  WriteFixture("Second GPU");
  auto cached = Json(Vox("--json --fixture gpus.json"));
  EXPECT_EQ(cached.at("gpus").at(0).at("name"), "First GPU");
  EXPECT_EQ(cached.at("probed_at_ms"), first.at("probed_at_ms"));
  auto fresh = Json(Vox("--json --refresh --fixture gpus.json"));
  EXPECT_EQ(fresh.at("gpus").at(0).at("name"), "Second GPU");
}

TEST_F(CliProbeTest, FailuresCarryHintsInJsonAndTable) {
  AddPciGpu(dir_, "card0", "0000:01:00.0", "0x10de", "0x2330", "nvidia");
  const std::string args = "--order linux_drm,nvml --sysfs-root . --nvml-library " +
                           (dir_ / "missing/libnvidia-ml.so.1");
  auto o = Json(Vox("--json " + args));
  ASSERT_EQ(o.at("failures").as_array().size(), 1u);
  const auto& f = o.at("failures").at(0);
  EXPECT_EQ(f.at("probe"), "nvml");
  EXPECT_EQ(f.at("kind"), "library_missing");
  EXPECT_FALSE(f.at("hint").as_string().empty());
  EXPECT_EQ(o.at("gpus").as_array().size(), 1u);  // linux_drm still reports the card

  VoxRun table = Vox("--refresh " + args);
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("nvml       failed"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("hint: install"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("0000:01:00.0"), std::string::npos) << table.out;
}

TEST_F(CliProbeTest, FakeLibrariesThroughTheBinary) {
  const std::string args = std::string("--json --order nvml,vulkan --nvml-library ") +
                           FAKE_NVML_LIB + " --vulkan-library " + FAKE_VULKAN_LIB;
  setenv("FAKE_NVML_GPUS", "2", 1);  // inherited by the vox child
  unsetenv("FAKE_NVML_INIT_RC");
  unsetenv("FAKE_VK_NVIDIA");
  VoxRun run = Vox(args);
  auto report = Json(run);
  ASSERT_TRUE(report.contains("gpus")) << run.out;
  // 2 NVML GPUs + the fake loader's AMD card.
  EXPECT_EQ(report.at("gpus").as_array().size(), 3u) << run.out;
  EXPECT_TRUE(report.at("failures").as_array().empty()) << run.out;
}

TEST_F(CliProbeTest, UnknownProbeNameIsAUsageErrorWithHint) {
  VoxRun run = Vox("--order hwloc,cuda", /*merge_stderr=*/true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.out.find("unknown probe \"cuda\""), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("hint: choose from"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace populi::probe
