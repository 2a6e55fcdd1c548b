// The probe report codec (the CLI's on-disk cache of `vox populi probe`): a strict reader built
// on the mesh codecs.
#include "probe/report_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace populi::probe {
namespace {

namespace json = boost::json;

json::value Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

ProbeReport FullReport() {
  ProbeReport r;
  r.probed_at_ms = 1'700'000'000'123;
  r.duration_ms = 12.5;
  r.cpu = mesh::CpuInfo{"Demo CPU", 8, 16, 1, 32ull << 30, 16ull << 30};
  mesh::GpuDevice g;
  g.uuid = "GPU-0";
  g.name = "Demo GPU";
  g.vendor = "nvidia";
  g.memory_total_bytes = 80ull << 30;
  g.utilization_pct = 7;
  g.confirmed_by = {"nvml", "linux_drm"};
  r.gpus.push_back(g);
  r.failures.push_back({"vulkan", "library_missing", "cannot load libvulkan.so.1", "install it"});
  r.attempts.push_back({"nvml", ProbeOutcome::kFound, 1.25, 1, "", ""});
  r.attempts.push_back({"vulkan", ProbeOutcome::kFailed, 0.5, 0, "", "cannot load libvulkan.so.1"});
  r.attempts.push_back({"dxgi", ProbeOutcome::kNotApplicable, 0, 0, "Windows only", ""});
  return r;
}

TEST(ReportJson, RoundTripsThroughText) {
  const ProbeReport r = FullReport();
  auto back = ReportFromJson(Parse(json::serialize(ReportToJson(r))));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->probed_at_ms, r.probed_at_ms);
  EXPECT_EQ(back->duration_ms, r.duration_ms);
  ASSERT_TRUE(back->cpu.has_value());
  EXPECT_EQ(back->cpu->model, "Demo CPU");
  EXPECT_EQ(back->cpu->threads, 16u);
  ASSERT_EQ(back->gpus.size(), 1u);
  EXPECT_EQ(back->gpus[0].uuid, "GPU-0");
  EXPECT_EQ(back->gpus[0].memory_total_bytes, 80ull << 30);
  EXPECT_EQ(back->gpus[0].utilization_pct, 7u);
  EXPECT_EQ(back->gpus[0].confirmed_by, r.gpus[0].confirmed_by);
  ASSERT_EQ(back->failures.size(), 1u);
  EXPECT_EQ(back->failures[0].kind, "library_missing");
  EXPECT_EQ(back->failures[0].hint, "install it");
  ASSERT_EQ(back->attempts.size(), 3u);
  for (size_t i = 0; i < r.attempts.size(); ++i) {
    EXPECT_EQ(back->attempts[i].probe, r.attempts[i].probe);
    EXPECT_EQ(back->attempts[i].outcome, r.attempts[i].outcome);
    EXPECT_EQ(back->attempts[i].duration_ms, r.attempts[i].duration_ms);
    EXPECT_EQ(back->attempts[i].gpus_found, r.attempts[i].gpus_found);
    EXPECT_EQ(back->attempts[i].detail, r.attempts[i].detail);
    EXPECT_EQ(back->attempts[i].error, r.attempts[i].error);
  }
  // No CPU probe ran: written as null, read back as none.
  ProbeReport no_cpu;
  auto empty = ReportFromJson(Parse(json::serialize(ReportToJson(no_cpu))));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_FALSE(empty->cpu.has_value());
}

TEST(ReportJson, WrongTypesNameTheFieldPath) {
  auto gpu = ReportFromJson(Parse(R"({"gpus":[{"name":"a"},{"memory_total_bytes":"80G"}]})"));
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(gpu.status().message(), "gpus[1].memory_total_bytes: expected a non-negative integer");
  EXPECT_FALSE(gpu.status().hint().empty());

  auto cpu = ReportFromJson(Parse(R"({"cpu":{"cores":"eight"}})"));
  ASSERT_FALSE(cpu.ok());
  EXPECT_EQ(cpu.status().message().rfind("cpu.cores: expected an integer", 0), 0u)
      << cpu.status().message();
  auto duration = ReportFromJson(Parse(R"({"duration_ms":"fast"})"));
  ASSERT_FALSE(duration.ok());
  EXPECT_EQ(duration.status().message(), "duration_ms: expected a number");
  auto outcome = ReportFromJson(
      Parse(R"({"attempts":[{"vox.mesh.probe.name":"nvml","outcome":"exploded"}]})"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().message().rfind("attempts[0].outcome: unknown probe outcome", 0), 0u)
      << outcome.status().message();
  EXPECT_FALSE(ReportFromJson(Parse(R"({"failures":{}})")).ok());
  EXPECT_FALSE(ReportFromJson(Parse("[]")).ok());
}

TEST(ReportJson, UnknownFieldsAreIgnored) {
  auto r = ReportFromJson(Parse(
      R"({"probed_at_ms":5,"future":[1],"gpus":[{"name":"g","future_gpu_field":true}],
          "attempts":[{"vox.mesh.probe.name":"nvml","outcome":"found","future":1}]})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->probed_at_ms, 5);
  ASSERT_EQ(r->gpus.size(), 1u);
  EXPECT_EQ(r->gpus[0].name, "g");
  ASSERT_EQ(r->attempts.size(), 1u);
  EXPECT_EQ(r->attempts[0].outcome, ProbeOutcome::kFound);
}

TEST(ReportJson, AnAttemptNeedsItsNameAndOutcome) {
  auto no_name = ReportFromJson(Parse(R"({"attempts":[{"outcome":"found"}]})"));
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(no_name.status().message(),
            "attempts[0].vox.mesh.probe.name: required field is missing");
  auto no_outcome = ReportFromJson(Parse(R"({"attempts":[{"vox.mesh.probe.name":"nvml"}]})"));
  ASSERT_FALSE(no_outcome.ok());
  EXPECT_EQ(no_outcome.status().message(), "attempts[0].outcome: required field is missing");
}

}  // namespace
}  // namespace populi::probe
