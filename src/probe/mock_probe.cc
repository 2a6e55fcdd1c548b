// mock: devices from a JSON fixture file, read on every probe so a test or demo can change the
// file between cycles. Format (docs/probes.md):
//   {"cpu": {...CpuInfo fields...}, "gpus": [{...GpuDevice fields...}],
//    "failure": {"kind": "...", "message": "...", "hint": "..."}}   // all optional
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "probe/probes.h"
#include "probe/report_json.h"

namespace populi::probe {
namespace {

constexpr std::string_view kName = "mock";

class MockProbe final : public HardwareProbe {
 public:
  explicit MockProbe(std::string path) : path_(std::move(path)) {}
  std::string_view name() const override { return kName; }
  bool applicable() const override { return true; }

  ProbeResult Probe() override {
    const std::string hint = "fix the mock fixture (format in docs/probes.md) or pass --fixture";
    if (path_.empty()) {
      return ProbeResult::Failed(kName, kFailureError, "no mock fixture file configured", hint);
    }
    std::ifstream in(path_);
    if (!in) {
      return ProbeResult::Failed(kName, kFailureError, "cannot read mock fixture " + path_, hint);
    }
    std::stringstream buf;
    buf << in.rdbuf();
    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(buf.str(), ec);
    if (ec || !doc.is_object()) {
      return ProbeResult::Failed(kName, kFailureError,
                                 "mock fixture " + path_ + " is not a JSON object" +
                                     (ec ? ": " + ec.message() : std::string()),
                                 hint);
    }
    const auto& obj = doc.as_object();
    if (const auto* f = obj.if_contains("failure"); f != nullptr && f->is_object()) {
      auto text = [&](const char* key) {
        const auto* v = f->as_object().if_contains(key);
        return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      std::string kind = text("kind");
      return ProbeResult::Failed(kName, kind.empty() ? kFailureError : kind, text("message"),
                                 text("hint"));
    }
    ProbeResult result = ProbeResult::NoDevice("the fixture lists no device");
    if (const auto* gpus = obj.if_contains("gpus"); gpus != nullptr) {
      if (!gpus->is_array()) {
        return ProbeResult::Failed(kName, kFailureError,
                                   "mock fixture " + path_ + ": \"gpus\" must be an array", hint);
      }
      std::vector<mesh::GpuDevice> list;
      for (const auto& g : gpus->as_array()) {
        auto gpu = GpuDeviceFromJson(g);
        if (!gpu.ok()) {
          return ProbeResult::Failed(kName, kFailureError,
                                     "mock fixture " + path_ + ": " + gpu.status().message(), hint);
        }
        gpu->source = std::string(kName);
        list.push_back(std::move(*gpu));
      }
      result = ProbeResult::FoundGpus(std::move(list));
    }
    if (const auto* cpu = obj.if_contains("cpu"); cpu != nullptr) {
      auto parsed = CpuInfoFromJson(*cpu);
      if (!parsed.ok()) {
        return ProbeResult::Failed(
            kName, kFailureError, "mock fixture " + path_ + ": " + parsed.status().message(), hint);
      }
      result.cpu = std::move(*parsed);
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
