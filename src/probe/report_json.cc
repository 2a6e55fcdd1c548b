#include "probe/report_json.h"

#include "mesh/json.h"

#include <string>

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

Status ReadString(const json::value& v, const char* key, std::string* out) {
  if (!v.is_string()) return InvalidArgument(std::string("\"") + key + "\" must be a string");
  *out = std::string(v.as_string());
  return Status::Ok();
}

template <typename T>
Status ReadUnsigned(const json::value& v, const char* key, T* out) {
  if (v.is_uint64()) {
    *out = static_cast<T>(v.as_uint64());
  } else if (v.is_int64() && v.as_int64() >= 0) {
    *out = static_cast<T>(v.as_int64());
  } else {
    return InvalidArgument(std::string("\"") + key + "\" must be a non-negative integer");
  }
  return Status::Ok();
}

Status UnknownKey(std::string_view what, std::string_view key) {
  return InvalidArgument("unknown " + std::string(what) + " key \"" + std::string(key) + "\"",
                         "see docs/probes.md for the fixture format");
}

}  // namespace

Result<mesh::GpuDevice> GpuDeviceFromJson(const json::value& value) {
  if (!value.is_object()) return InvalidArgument("a GPU entry must be a JSON object");
  mesh::GpuDevice g;
  for (const auto& [key, v] : value.as_object()) {
    if (key == "uuid") {
      POPULI_RETURN_IF_ERROR(ReadString(v, "uuid", &g.uuid));
    } else if (key == "name") {
      POPULI_RETURN_IF_ERROR(ReadString(v, "name", &g.name));
    } else if (key == "vendor") {
      POPULI_RETURN_IF_ERROR(ReadString(v, "vendor", &g.vendor));
    } else if (key == "pci_bus_id") {
      POPULI_RETURN_IF_ERROR(ReadString(v, "pci_bus_id", &g.pci_bus_id));
    } else if (key == "memory_total_bytes") {
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "memory_total_bytes", &g.memory_total_bytes));
    } else if (key == "memory_used_bytes") {
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "memory_used_bytes", &g.memory_used_bytes));
    } else if (key == "memory_free_bytes") {
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "memory_free_bytes", &g.memory_free_bytes));
    } else if (key == "utilization_pct" && !v.is_null()) {
      uint32_t u = 0;
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "utilization_pct", &u));
      g.utilization_pct = u;
    } else if (key == "temperature_c" && !v.is_null()) {
      uint32_t t = 0;
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "temperature_c", &t));
      g.temperature_c = t;
    } else if (key == "driver_version") {
      POPULI_RETURN_IF_ERROR(ReadString(v, "driver_version", &g.driver_version));
    } else if (key == "cuda_driver_version") {
      POPULI_RETURN_IF_ERROR(ReadString(v, "cuda_driver_version", &g.cuda_driver_version));
    } else if (key == "mig_enabled") {
      if (!v.is_bool()) return InvalidArgument("\"mig_enabled\" must be true or false");
      g.mig_enabled = v.as_bool();
    } else if (key == "memory_allocatable_bytes") {
      POPULI_RETURN_IF_ERROR(
          ReadUnsigned(v, "memory_allocatable_bytes", &g.memory_allocatable_bytes));
    } else if (key == "source") {
      POPULI_RETURN_IF_ERROR(ReadString(v, "source", &g.source));
    } else if (key == "confirmed_by") {
      if (!v.is_array()) return InvalidArgument("\"confirmed_by\" must be an array of strings");
      for (const auto& s : v.as_array()) {
        std::string name;
        POPULI_RETURN_IF_ERROR(ReadString(s, "confirmed_by", &name));
        g.confirmed_by.push_back(std::move(name));
      }
    } else if ((key == "utilization_pct" || key == "temperature_c") && v.is_null()) {
      // null reads as unknown
    } else {
      return UnknownKey("GPU", key);
    }
  }
  if (g.name.empty()) return InvalidArgument("a GPU entry needs a \"name\"");
  if (g.vendor.empty()) g.vendor = "unknown";
  if (g.memory_used_bytes > g.memory_total_bytes) {
    return InvalidArgument("GPU \"" + g.name + "\": memory_used_bytes exceeds memory_total_bytes");
  }
  if (value.as_object().if_contains("memory_free_bytes") == nullptr) {
    g.memory_free_bytes = g.memory_total_bytes - g.memory_used_bytes;
  }
  if (g.uuid.empty()) g.uuid = "mock:" + g.name + "@" + g.pci_bus_id;
  return g;
}

Result<mesh::CpuInfo> CpuInfoFromJson(const json::value& value) {
  if (!value.is_object()) return InvalidArgument("\"cpu\" must be a JSON object");
  mesh::CpuInfo c;
  for (const auto& [key, v] : value.as_object()) {
    if (key == "model") {
      POPULI_RETURN_IF_ERROR(ReadString(v, "model", &c.model));
    } else if (key == "cores") {
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "cores", &c.cores));
    } else if (key == "threads") {
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "threads", &c.threads));
    } else if (key == "numa_nodes") {
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "numa_nodes", &c.numa_nodes));
    } else if (key == "memory_total_bytes") {
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "memory_total_bytes", &c.memory_total_bytes));
    } else if (key == "memory_available_bytes") {
      POPULI_RETURN_IF_ERROR(ReadUnsigned(v, "memory_available_bytes", &c.memory_available_bytes));
    } else {
      return UnknownKey("cpu", key);
    }
  }
  return c;
}

namespace {

Result<std::string> StringField(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return InvalidArgument(std::string("\"") + key + "\" must be a string");
  }
  return std::string(v->as_string());
}

double NumberField(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  return 0;
}

Result<ProbeOutcome> ParseOutcome(const std::string& text) {
  for (auto o : {ProbeOutcome::kNotApplicable, ProbeOutcome::kNoDevice, ProbeOutcome::kFound,
                 ProbeOutcome::kFailed}) {
    if (ToString(o) == text) return o;
  }
  return InvalidArgument("unknown probe outcome \"" + text + "\"");
}

}  // namespace

Result<ProbeReport> ReportFromJson(const json::value& value) {
  if (!value.is_object()) return InvalidArgument("a probe report must be a JSON object");
  const auto& o = value.as_object();
  ProbeReport r;
  r.probed_at_ms = static_cast<int64_t>(NumberField(o, "probed_at_ms"));
  r.duration_ms = NumberField(o, "duration_ms");
  if (const auto* cpu = o.if_contains("cpu"); cpu != nullptr && !cpu->is_null()) {
    POPULI_ASSIGN_OR_RETURN(r.cpu, CpuInfoFromJson(*cpu));
  }
  auto array = [&](const char* key) -> const json::array* {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
  };
  if (const auto* gpus = array("gpus")) {
    for (const auto& g : *gpus) {
      POPULI_ASSIGN_OR_RETURN(auto gpu, GpuDeviceFromJson(g));
      r.gpus.push_back(std::move(gpu));
    }
  }
  if (const auto* failures = array("failures")) {
    for (const auto& f : *failures) {
      if (!f.is_object()) return InvalidArgument("a failure must be a JSON object");
      mesh::ProbeFailure failure;
      POPULI_ASSIGN_OR_RETURN(failure.probe, StringField(f.as_object(), "probe"));
      POPULI_ASSIGN_OR_RETURN(failure.kind, StringField(f.as_object(), "kind"));
      POPULI_ASSIGN_OR_RETURN(failure.message, StringField(f.as_object(), "message"));
      POPULI_ASSIGN_OR_RETURN(failure.hint, StringField(f.as_object(), "hint"));
      r.failures.push_back(std::move(failure));
    }
  }
  if (const auto* attempts = array("attempts")) {
    for (const auto& a : *attempts) {
      if (!a.is_object()) return InvalidArgument("an attempt must be a JSON object");
      const auto& ao = a.as_object();
      ProbeAttempt attempt;
      POPULI_ASSIGN_OR_RETURN(attempt.probe, StringField(ao, "vox.mesh.probe.name"));
      POPULI_ASSIGN_OR_RETURN(std::string outcome, StringField(ao, "outcome"));
      POPULI_ASSIGN_OR_RETURN(attempt.outcome, ParseOutcome(outcome));
      attempt.duration_ms = NumberField(ao, "duration_ms");
      attempt.gpus_found = static_cast<size_t>(NumberField(ao, "gpus_found"));
      POPULI_ASSIGN_OR_RETURN(attempt.error, StringField(ao, "error"));
      POPULI_ASSIGN_OR_RETURN(attempt.detail, StringField(ao, "detail"));
      r.attempts.push_back(std::move(attempt));
    }
  }
  return r;
}

}  // namespace populi::probe
