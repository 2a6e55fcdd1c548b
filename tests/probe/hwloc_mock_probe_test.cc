// hwloc on this machine's real topology, and the mock probe's fixture format.
#include <gtest/gtest.h>

#include <thread>

#include "probe/probes.h"
#include "probe_test_util.h"

namespace populi::probe {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(HwlocProbe, DescribesThisMachine) {
  auto result = MakeHwlocProbe()->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound) << result.failure.message;
  ASSERT_TRUE(result.cpu.has_value());
  const auto& cpu = *result.cpu;
  EXPECT_GE(cpu.cores, 1u);
  EXPECT_GE(cpu.threads, cpu.cores);
  EXPECT_GE(cpu.numa_nodes, 1u);
  EXPECT_FALSE(cpu.model.empty());
  EXPECT_GT(cpu.memory_total_bytes, 64ull << 20);
  EXPECT_GT(cpu.memory_available_bytes, 0u);
  EXPECT_LE(cpu.memory_available_bytes, cpu.memory_total_bytes);
  // hwloc sees at least the CPUs this process may run on.
  EXPECT_GE(cpu.threads, std::thread::hardware_concurrency());
}

TEST(MockProbe, ReadsCpuAndGpusFromTheFixture) {
  TempDir dir;
  WriteFile(dir / "f.json", R"({"cpu": {"model": "Demo CPU", "cores": 8, "threads": 16},
    "gpus": [{"name": "Demo GPU", "vendor": "nvidia", "pci_bus_id": "0000:01:00.0",
              "memory_total_bytes": 1000, "memory_used_bytes": 400}]})");
  auto result = MakeMockProbe(dir / "f.json")->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound);
  EXPECT_EQ(result.cpu->model, "Demo CPU");
  ASSERT_EQ(result.gpus.size(), 1u);
  EXPECT_EQ(result.gpus[0].memory_free_bytes, 600u);
  EXPECT_EQ(result.gpus[0].source, "mock");
}

TEST(MockProbe, FixtureCanSimulateAFailure) {
  TempDir dir;
  WriteFile(dir / "f.json",
            R"({"failure": {"kind": "permission_denied", "message": "m", "hint": "h"}})");
  auto result = MakeMockProbe(dir / "f.json")->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(result.failure.kind, "permission_denied");
  EXPECT_EQ(result.failure.hint, "h");
}

TEST(MockProbe, BadFixturesFailWithTheReason) {
  TempDir dir;
  WriteFile(dir / "typo.json", R"({"gpus": [{"name": "G", "memory_totl_bytes": 1}]})");
  auto typo = MakeMockProbe(dir / "typo.json")->Probe();
  ASSERT_EQ(typo.outcome, ProbeOutcome::kFailed);
  EXPECT_NE(typo.failure.message.find("memory_totl_bytes"), std::string::npos);
  WriteFile(dir / "broken.json", "{not json");
  EXPECT_EQ(MakeMockProbe(dir / "broken.json")->Probe().outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(MakeMockProbe(dir / "missing.json")->Probe().outcome, ProbeOutcome::kFailed);
}

}  // namespace
}  // namespace populi::probe
