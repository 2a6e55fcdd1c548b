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
  EXPECT_EQ(result.failure.message, "m");
  EXPECT_EQ(result.failure.hint, "h");
}

TEST(MockProbe, FixtureDefaultsAndExplicitValues) {
  TempDir dir;
  // Unknown top-level keys are room for notes; a GPU's explicit free memory is kept.
  WriteFile(dir / "f.json", R"({"note": "demo box", "gpus": [
    {"name": "A", "memory_total_bytes": 100, "memory_used_bytes": 10, "memory_free_bytes": 50},
    {"name": "B", "pci_bus_id": "0000:02:00.0", "utilization_pct": null}]})");
  auto result = MakeMockProbe(dir / "f.json")->Probe();
  ASSERT_EQ(result.outcome, ProbeOutcome::kFound) << result.failure.message;
  ASSERT_EQ(result.gpus.size(), 2u);
  EXPECT_EQ(result.gpus[0].memory_free_bytes, 50u);
  EXPECT_EQ(result.gpus[1].vendor, "unknown");
  EXPECT_EQ(result.gpus[1].uuid, "mock:B@0000:02:00.0");
  EXPECT_FALSE(result.gpus[1].utilization_pct.has_value());
  EXPECT_FALSE(result.cpu.has_value());
  WriteFile(dir / "over.json",
            R"({"gpus": [{"name": "A", "memory_total_bytes": 1, "memory_used_bytes": 2}]})");
  EXPECT_EQ(MakeMockProbe(dir / "over.json")->Probe().outcome, ProbeOutcome::kFailed);
}

TEST(MockProbe, BadFixturesFailWithTheReason) {
  TempDir dir;
  WriteFile(dir / "typo.json", R"({"gpus": [{"name": "G", "memory_totl_bytes": 1}]})");
  auto typo = MakeMockProbe(dir / "typo.json")->Probe();
  ASSERT_EQ(typo.outcome, ProbeOutcome::kFailed);
  EXPECT_NE(typo.failure.message.find("memory_totl_bytes"), std::string::npos);
  WriteFile(dir / "wrong_type.json",
            R"({"gpus": [{"name": "A"}, {"name": "B", "mig_enabled": 1}]})");
  auto wrong_type = MakeMockProbe(dir / "wrong_type.json")->Probe();
  ASSERT_EQ(wrong_type.outcome, ProbeOutcome::kFailed);
  EXPECT_NE(wrong_type.failure.message.find("gpus[1].mig_enabled: expected true or false"),
            std::string::npos)
      << wrong_type.failure.message;
  EXPECT_FALSE(wrong_type.failure.hint.empty());
  WriteFile(dir / "cpu_typo.json", R"({"cpu": {"model": "C", "thread": 4}})");
  auto cpu_typo = MakeMockProbe(dir / "cpu_typo.json")->Probe();
  ASSERT_EQ(cpu_typo.outcome, ProbeOutcome::kFailed);
  EXPECT_NE(cpu_typo.failure.message.find("cpu.thread: unknown field"), std::string::npos)
      << cpu_typo.failure.message;
  WriteFile(dir / "nameless.json", R"({"gpus": [{"vendor": "amd"}]})");
  auto nameless = MakeMockProbe(dir / "nameless.json")->Probe();
  ASSERT_EQ(nameless.outcome, ProbeOutcome::kFailed);
  EXPECT_NE(nameless.failure.message.find("gpus[0].name: required field is missing"),
            std::string::npos)
      << nameless.failure.message;
  WriteFile(dir / "broken.json", "{not json");
  EXPECT_EQ(MakeMockProbe(dir / "broken.json")->Probe().outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(MakeMockProbe(dir / "missing.json")->Probe().outcome, ProbeOutcome::kFailed);
}

}  // namespace
}  // namespace populi::probe
