// The probe vocabulary's codecs (GpuDevice, CpuInfo, ProbeFailure) and the FieldReader they and
// every other JSON reader in the project are built on.
#include "mesh/json.h"
#include "mesh/json_reader.h"
#include "mesh/parse_json.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

namespace populi::mesh {
namespace {

namespace json = boost::json;

using testing::Parse;

// Round trips through text, as the report cache and the wire do.
json::value Text(const json::object& o) {
  return Parse(json::serialize(o));
}

GpuDevice FullGpu() {
  GpuDevice g;
  g.uuid = "GPU-1";
  g.name = "Demo H100";
  g.vendor = "nvidia";
  g.pci_bus_id = "0000:01:00.0";
  g.memory_total_bytes = 80ull << 30;
  g.memory_used_bytes = 1ull << 30;
  g.memory_free_bytes = 79ull << 30;
  g.utilization_pct = 12;
  g.temperature_c = 41;
  g.driver_version = "550.54.15";
  g.cuda_driver_version = "12.4";
  g.mig_enabled = true;
  g.source = "nvml";
  g.confirmed_by = {"nvml", "linux_drm"};
  g.memory_allocatable_bytes = 70ull << 30;
  return g;
}

TEST(ProbeJson, GpuDeviceRoundTripsEveryField) {
  const GpuDevice g = FullGpu();
  auto back = GpuDeviceFromJson(Text(ToJson(g)));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->uuid, g.uuid);
  EXPECT_EQ(back->name, g.name);
  EXPECT_EQ(back->vendor, g.vendor);
  EXPECT_EQ(back->pci_bus_id, g.pci_bus_id);
  EXPECT_EQ(back->memory_total_bytes, g.memory_total_bytes);
  EXPECT_EQ(back->memory_used_bytes, g.memory_used_bytes);
  EXPECT_EQ(back->memory_free_bytes, g.memory_free_bytes);
  EXPECT_EQ(back->utilization_pct, g.utilization_pct);
  EXPECT_EQ(back->temperature_c, g.temperature_c);
  EXPECT_EQ(back->driver_version, g.driver_version);
  EXPECT_EQ(back->cuda_driver_version, g.cuda_driver_version);
  EXPECT_EQ(back->mig_enabled, g.mig_enabled);
  EXPECT_EQ(back->source, g.source);
  EXPECT_EQ(back->confirmed_by, g.confirmed_by);
  EXPECT_EQ(back->memory_allocatable_bytes, g.memory_allocatable_bytes);
}

TEST(ProbeJson, GpuDeviceUnknownCountersStayUnknown) {
  auto absent = GpuDeviceFromJson(Parse(R"({"name":"G"})"));
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->utilization_pct.has_value());
  auto null = GpuDeviceFromJson(Parse(R"({"name":"G","temperature_c":null})"));
  ASSERT_TRUE(null.ok());
  EXPECT_FALSE(null->temperature_c.has_value());
}

TEST(ProbeJson, CpuInfoAndProbeFailureRoundTrip) {
  CpuInfo c{"Demo CPU", 8, 16, 2, 64ull << 30, 32ull << 30};
  auto cpu = CpuInfoFromJson(Text(ToJson(c)));
  ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();
  EXPECT_EQ(cpu->model, c.model);
  EXPECT_EQ(cpu->cores, c.cores);
  EXPECT_EQ(cpu->threads, c.threads);
  EXPECT_EQ(cpu->numa_nodes, c.numa_nodes);
  EXPECT_EQ(cpu->memory_total_bytes, c.memory_total_bytes);
  EXPECT_EQ(cpu->memory_available_bytes, c.memory_available_bytes);

  ProbeFailure f{"nvml", "driver_mismatch", "too old", "upgrade"};
  auto failure = ProbeFailureFromJson(Text(ToJson(f)));
  ASSERT_TRUE(failure.ok()) << failure.status().ToString();
  EXPECT_EQ(failure->probe, f.probe);
  EXPECT_EQ(failure->kind, f.kind);
  EXPECT_EQ(failure->message, f.message);
  EXPECT_EQ(failure->hint, f.hint);
}

TEST(ProbeJson, WrongTypesNameTheFieldPath) {
  auto gpu = GpuDeviceFromJson(Parse(R"({"memory_total_bytes":"80G"})"), "gpus[1]");
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(gpu.status().message(), "gpus[1].memory_total_bytes: expected a non-negative integer");
  EXPECT_FALSE(gpu.status().hint().empty());

  auto pct = GpuDeviceFromJson(Parse(R"({"utilization_pct":-3})"));
  ASSERT_FALSE(pct.ok());
  EXPECT_EQ(pct.status().message().rfind("utilization_pct: number out of range", 0), 0u)
      << pct.status().message();
  auto names = GpuDeviceFromJson(Parse(R"({"confirmed_by":["nvml",7]})"));
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.status().message(), "confirmed_by[1]: expected a string");

  auto cpu = CpuInfoFromJson(Parse(R"({"cores":1.5})"), "cpu");
  ASSERT_FALSE(cpu.ok());
  EXPECT_EQ(cpu.status().message().rfind("cpu.cores: expected an integer", 0), 0u)
      << cpu.status().message();
  auto failure = ProbeFailureFromJson(Parse(R"({"kind":true})"), "failures[0]");
  ASSERT_FALSE(failure.ok());
  EXPECT_EQ(failure.status().message(), "failures[0].kind: expected a string");
  EXPECT_FALSE(GpuDeviceFromJson(Parse("[]")).ok());  // not an object
}

TEST(ProbeJson, UnknownFieldsAreIgnoredUnlessRejected) {
  const auto doc = Parse(R"({"name":"G","memory_totl_bytes":1})");
  auto lenient = GpuDeviceFromJson(doc);
  ASSERT_TRUE(lenient.ok()) << lenient.status().ToString();
  EXPECT_EQ(lenient->memory_total_bytes, 0u);

  ReadOptions strict{"check the fixture", UnknownFields::kReject};
  auto rejected = GpuDeviceFromJson(doc, "gpus[0]", strict);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().message(), "gpus[0].memory_totl_bytes: unknown field");
  EXPECT_EQ(rejected.status().hint(), "check the fixture");
  // Every field the codec knows is accepted under the strict rule.
  EXPECT_TRUE(GpuDeviceFromJson(Text(ToJson(FullGpu())), "", strict).ok());
  EXPECT_FALSE(CpuInfoFromJson(Parse(R"({"core":1})"), "", strict).ok());
}

TEST(ProbeJson, NodeRecordCarriesTheReaderDown) {
  auto n = NodeRecordFromJson(Parse(R"({"id":"n","cpu":[1]})"));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "cpu: expected an object");
  auto f = NodeRecordFromJson(Parse(R"({"id":"n","probe_failures":[{"hint":1}]})"));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), "probe_failures[0].hint: expected a string");
}

// ---- FieldReader ----

TEST(FieldReader, RequiredFieldsAndNullAsAbsent) {
  const auto doc = Parse(R"({"a":null,"b":"x"})");
  FieldReader r(doc, "top");
  std::string a;
  std::string b;
  r.Str("b", b, true);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(b, "x");
  r.Str("a", a, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "top.a: required field is missing");
  // The first error wins.
  r.Str("c", a, true);
  EXPECT_EQ(r.status().message(), "top.a: required field is missing");
}

TEST(FieldReader, NumbersObjectsAndCustomFields) {
  const auto doc = Parse(R"({"d":1.5,"i":2,"o":{"k":1},"s":"12"})");
  FieldReader r(doc, "");
  double d = 0;
  double i = 0;
  r.Double("d", d);
  r.Double("i", i);
  EXPECT_EQ(d, 1.5);
  EXPECT_EQ(i, 2.0);
  EXPECT_NE(r.Object("o"), nullptr);
  EXPECT_EQ(r.Object("missing"), nullptr);
  int64_t parsed = 0;
  r.Field("s", parsed, [](const json::value& v) -> Result<int64_t> {
    if (!v.is_string()) return InvalidArgument("expected a decimal string", "a test hint");
    return std::stoll(std::string(v.get_string()));
  });
  EXPECT_EQ(parsed, 12);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  r.Field("d", parsed, [](const json::value& v) -> Result<int64_t> {
    if (!v.is_string()) return InvalidArgument("expected a decimal string", "a test hint");
    return int64_t{0};
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "d: expected a decimal string");

  FieldReader not_object(doc, "");
  EXPECT_EQ(not_object.Object("d"), nullptr);
  EXPECT_EQ(not_object.status().message(), "d: expected an object");
  const auto text = Parse(R"({"n":"1"})");
  FieldReader not_number(text, "x");
  not_number.Double("n", d);
  EXPECT_EQ(not_number.status().message(), "x.n: expected a number");
}

TEST(FieldReader, RejectsUnreadFieldsOnlyWhenAsked) {
  const auto doc = Parse(R"({"known":1,"typo":2})");
  int64_t known = 0;
  FieldReader lenient(doc, "");
  lenient.Int("known", known);
  EXPECT_TRUE(lenient.Finish().ok());
  FieldReader strict(doc, "f", {"see the format", UnknownFields::kReject});
  strict.Int("known", known);
  ASSERT_FALSE(strict.Finish().ok());
  EXPECT_EQ(strict.status().message(), "f.typo: unknown field");
  EXPECT_EQ(strict.status().hint(), "see the format");
  // A field that was looked at (Has, Raw, Object) counts as read.
  FieldReader looked(doc, "", {"h", UnknownFields::kReject});
  EXPECT_TRUE(looked.Has("known"));
  EXPECT_NE(looked.Raw("typo"), nullptr);
  EXPECT_TRUE(looked.Finish().ok());
}

}  // namespace
}  // namespace populi::mesh
