// mock: devices from a JSON fixture file, read on every probe so a test or demo can change the
// file between cycles. Format (docs/probes.md):
//   {"cpu": {...CpuInfo fields...}, "gpus": [{...GpuDevice fields...}],
//    "failure": {"kind": "...", "message": "...", "hint": "..."}}   // all optional
#include <fstream>
#include <optional>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "mesh/json.h"
#include "mesh/json_reader.h"
#include "probe/probes.h"

namespace populi::probe {
namespace {

constexpr std::string_view kMockName = "mock";
constexpr std::string_view kFixtureHint =
    "fix the mock fixture (format in docs/probes.md) or pass --fixture";

// What a fixture file says: devices found, or a failure to report.
struct Fixture {
  std::optional<mesh::ProbeFailure> failure;
  std::optional<std::vector<mesh::GpuDevice>> gpus;
  std::optional<mesh::CpuInfo> cpu;
};

// A fixture GPU: the mesh codec with unknown keys refused (a typo in a hand-written file must not
// pass unnoticed), then the fixture's defaults. `name` is the one required field.
Result<mesh::GpuDevice> FixtureGpu(const boost::json::value& v, std::string path,
                                   const mesh::ReadOptions& options) {
  POPULI_ASSIGN_OR_RETURN(mesh::GpuDevice g, mesh::GpuDeviceFromJson(v, path, options));
  if (g.name.empty())
    return InvalidArgument(path + ".name: required field is missing", options.hint);
  if (g.vendor.empty()) g.vendor = "unknown";
  if (g.memory_used_bytes > g.memory_total_bytes) {
    return InvalidArgument(path + ": memory_used_bytes exceeds memory_total_bytes", options.hint);
  }
  mesh::FieldReader presence(v, path);
  if (!presence.Has("memory_free_bytes")) {
    g.memory_free_bytes = g.memory_total_bytes - g.memory_used_bytes;
  }
  if (g.uuid.empty()) g.uuid = "mock:" + g.name + "@" + g.pci_bus_id;
  g.source = std::string(kMockName);
  return g;
}

Result<Fixture> FixtureFromJson(const boost::json::value& doc) {
  mesh::ReadOptions options{std::string(kFixtureHint), mesh::UnknownFields::kReject};
  // Top-level keys beyond these three are ignored (room for comments); inside them, none are.
  mesh::FieldReader r(doc, "", {options.hint, mesh::UnknownFields::kIgnore});
  Fixture f;
  if (const boost::json::value* failure = r.Object("failure")) {
    POPULI_ASSIGN_OR_RETURN(f.failure,
                            mesh::ProbeFailureFromJson(*failure, r.Path("failure"), options));
  }
  if (r.Has("gpus")) {
    f.gpus.emplace();
    r.List("gpus", *f.gpus, [&](const boost::json::value& e, std::string path) {
      return FixtureGpu(e, std::move(path), options);
    });
  }
  if (const boost::json::value* cpu = r.Object("cpu")) {
    POPULI_ASSIGN_OR_RETURN(f.cpu, mesh::CpuInfoFromJson(*cpu, r.Path("cpu"), options));
  }
  if (!r.ok()) return r.status();
  return f;
}

class MockProbe final : public HardwareProbe {
 public:
  explicit MockProbe(std::string path) : path_(std::move(path)) {}
  std::string_view name() const override { return kMockName; }
  bool applicable() const override { return true; }

  ProbeResult Probe() override {
    const std::string hint(kFixtureHint);
    if (path_.empty()) {
      return ProbeResult::Failed(kMockName, kFailureError, "no mock fixture file configured", hint);
    }
    std::ifstream in(path_);
    if (!in) {
      return ProbeResult::Failed(kMockName, kFailureError, "cannot read mock fixture " + path_,
                                 hint);
    }
    std::stringstream buf;
    buf << in.rdbuf();
    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(buf.str(), ec);
    if (ec || !doc.is_object()) {
      return ProbeResult::Failed(kMockName, kFailureError,
                                 "mock fixture " + path_ + " is not a JSON object" +
                                     (ec ? ": " + ec.message() : std::string()),
                                 hint);
    }
    auto fixture = FixtureFromJson(doc);
    if (!fixture.ok()) {
      return ProbeResult::Failed(kMockName, kFailureError,
                                 "mock fixture " + path_ + ": " + fixture.status().message(), hint);
    }
    if (fixture->failure) {
      const mesh::ProbeFailure& f = *fixture->failure;
      return ProbeResult::Failed(kMockName, f.kind.empty() ? kFailureError : f.kind, f.message,
                                 f.hint);
    }
    ProbeResult result = ProbeResult::NoDevice("the fixture lists no device");
    if (fixture->gpus) result = ProbeResult::FoundGpus(std::move(*fixture->gpus));
    if (fixture->cpu) {
      result.cpu = std::move(*fixture->cpu);
      result.outcome = ProbeOutcome::kFound;
    }
    return result;
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<HardwareProbe> MakeMockProbe(std::string fixture_path) {
  return std::make_unique<MockProbe>(std::move(fixture_path));
}

}  // namespace populi::probe
