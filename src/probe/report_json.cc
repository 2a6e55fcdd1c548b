#include "probe/report_json.h"

#include <string>

#include "mesh/json.h"
#include "mesh/json_reader.h"

namespace populi::probe {

namespace json = boost::json;

json::object AttemptToJson(const ProbeAttempt& a) {
  json::object o;
  o["vox.mesh.probe.name"] = a.probe;
  o["outcome"] = ToString(a.outcome);
  o["duration_ms"] = a.duration_ms;
  o["error"] = a.error;
  o["gpus_found"] = a.gpus_found;
  o["detail"] = a.detail;
  return o;
}

json::object ReportToJson(const ProbeReport& r) {
  json::object o;
  o["probed_at_ms"] = r.probed_at_ms;
  o["duration_ms"] = r.duration_ms;
  o["cpu"] = r.cpu ? json::value(mesh::ToJson(*r.cpu)) : json::value();
  json::array gpus;
  for (const auto& g : r.gpus) gpus.emplace_back(mesh::ToJson(g));
  o["gpus"] = std::move(gpus);
  json::array failures;
  for (const auto& f : r.failures) failures.emplace_back(mesh::ToJson(f));
  o["failures"] = std::move(failures);
  json::array attempts;
  for (const auto& a : r.attempts) attempts.emplace_back(AttemptToJson(a));
  o["attempts"] = std::move(attempts);
  return o;
}

namespace {

constexpr std::string_view kReportHint =
    "the probe report cache is rewritten by `vox populi probe --refresh`";

Result<ProbeOutcome> ParseOutcome(const std::string& text) {
  for (auto o : {ProbeOutcome::kNotApplicable, ProbeOutcome::kNoDevice, ProbeOutcome::kFound,
                 ProbeOutcome::kFailed}) {
    if (ToString(o) == text) return o;
  }
  return InvalidArgument("unknown probe outcome \"" + text + "\"",
                         "one of not_applicable, no_device, found, failed");
}

Result<ProbeAttempt> AttemptFromJson(const json::value& v, std::string path,
                                     const mesh::ReadOptions& options) {
  mesh::FieldReader r(v, std::move(path), options);
  ProbeAttempt a;
  r.Str("vox.mesh.probe.name", a.probe, true);
  r.Enum("outcome", a.outcome, ParseOutcome, true);
  r.Double("duration_ms", a.duration_ms);
  uint64_t gpus_found = 0;
  r.U64("gpus_found", gpus_found);
  a.gpus_found = static_cast<size_t>(gpus_found);
  r.Str("error", a.error);
  r.Str("detail", a.detail);
  if (!r.ok()) return r.status();
  return a;
}

}  // namespace

Result<ProbeReport> ReportFromJson(const json::value& value) {
  mesh::FieldReader r(value, "", {std::string(kReportHint), mesh::UnknownFields::kIgnore});
  const mesh::ReadOptions& options = r.options();
  ProbeReport report;
  r.Int("probed_at_ms", report.probed_at_ms);
  r.Double("duration_ms", report.duration_ms);
  if (const json::value* cpu = r.Object("cpu")) {
    POPULI_ASSIGN_OR_RETURN(report.cpu, mesh::CpuInfoFromJson(*cpu, r.Path("cpu"), options));
  }
  r.List("gpus", report.gpus, [&](const json::value& e, std::string path) {
    return mesh::GpuDeviceFromJson(e, std::move(path), options);
  });
  r.List("failures", report.failures, [&](const json::value& e, std::string path) {
    return mesh::ProbeFailureFromJson(e, std::move(path), options);
  });
  r.List("attempts", report.attempts, [&](const json::value& e, std::string path) {
    return AttemptFromJson(e, std::move(path), options);
  });
  if (!r.ok()) return r.status();
  return report;
}

}  // namespace populi::probe
