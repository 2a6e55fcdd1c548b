// Codecs of the probe vocabulary (GpuDevice, CpuInfo, ProbeFailure): inside a NodeRecord on the
// wire, in the probe report `vox populi probe --json` writes and caches, and in the mock probe's
// fixture file. One reader for all three, so they cannot drift apart.
#include <string>
#include <utility>

#include "mesh/json.h"
#include "mesh/json_internal.h"

namespace populi::mesh {
namespace json = boost::json;
using namespace json_internal;  // NOLINT(google-build-using-namespace)
namespace {

// An optional small counter: absent (or null) stays unknown.
void OptionalU32(Reader& r, std::string_view key, std::optional<uint32_t>& out) {
  if (!r.Has(key)) return;
  uint32_t n = 0;
  r.Num(key, n);
  if (r.ok()) out = n;
}

}  // namespace

json::object ToJson(const GpuDevice& g) {
  json::object o;
  PutStr(o, "uuid", g.uuid);
  PutStr(o, "name", g.name);
  PutStr(o, "vendor", g.vendor);
  PutStr(o, "pci_bus_id", g.pci_bus_id);
  o["memory_total_bytes"] = g.memory_total_bytes;
  o["memory_used_bytes"] = g.memory_used_bytes;
  o["memory_free_bytes"] = g.memory_free_bytes;
  if (g.utilization_pct) o["utilization_pct"] = *g.utilization_pct;
  if (g.temperature_c) o["temperature_c"] = *g.temperature_c;
  PutStr(o, "driver_version", g.driver_version);
  PutStr(o, "cuda_driver_version", g.cuda_driver_version);
  o["mig_enabled"] = g.mig_enabled;
  PutStr(o, "source", g.source);
  if (!g.confirmed_by.empty()) {
    json::array probes;
    for (const auto& name : g.confirmed_by) probes.emplace_back(name);
    o["confirmed_by"] = std::move(probes);
  }
  o["memory_allocatable_bytes"] = g.memory_allocatable_bytes;
  return o;
}

Result<GpuDevice> GpuDeviceFromJson(const json::value& v, std::string path,
                                    const ReadOptions& options) {
  Reader r(v, std::move(path), options);
  GpuDevice g;
  r.Str("uuid", g.uuid);
  r.Str("name", g.name);
  r.Str("vendor", g.vendor);
  r.Str("pci_bus_id", g.pci_bus_id);
  r.U64("memory_total_bytes", g.memory_total_bytes);
  r.U64("memory_used_bytes", g.memory_used_bytes);
  r.U64("memory_free_bytes", g.memory_free_bytes);
  OptionalU32(r, "utilization_pct", g.utilization_pct);
  OptionalU32(r, "temperature_c", g.temperature_c);
  r.Str("driver_version", g.driver_version);
  r.Str("cuda_driver_version", g.cuda_driver_version);
  r.Bool("mig_enabled", g.mig_enabled);
  r.Str("source", g.source);
  r.Strings("confirmed_by", g.confirmed_by);
  r.U64("memory_allocatable_bytes", g.memory_allocatable_bytes);
  if (!r.Finish().ok()) return r.status();
  return g;
}

json::object ToJson(const CpuInfo& c) {
  json::object o;
  PutStr(o, "model", c.model);
  o["cores"] = c.cores;
  o["threads"] = c.threads;
  o["numa_nodes"] = c.numa_nodes;
  o["memory_total_bytes"] = c.memory_total_bytes;
  o["memory_available_bytes"] = c.memory_available_bytes;
  return o;
}

Result<CpuInfo> CpuInfoFromJson(const json::value& v, std::string path,
                                const ReadOptions& options) {
  Reader r(v, std::move(path), options);
  CpuInfo c;
  r.Str("model", c.model);
  r.Num("cores", c.cores);
  r.Num("threads", c.threads);
  r.Num("numa_nodes", c.numa_nodes);
  r.U64("memory_total_bytes", c.memory_total_bytes);
  r.U64("memory_available_bytes", c.memory_available_bytes);
  if (!r.Finish().ok()) return r.status();
  return c;
}

json::object ToJson(const ProbeFailure& f) {
  json::object o;
  PutStr(o, "probe", f.probe);
  PutStr(o, "kind", f.kind);
  PutStr(o, "message", f.message);
  PutStr(o, "hint", f.hint);
  return o;
}

Result<ProbeFailure> ProbeFailureFromJson(const json::value& v, std::string path,
                                          const ReadOptions& options) {
  Reader r(v, std::move(path), options);
  ProbeFailure f;
  r.Str("probe", f.probe);
  r.Str("kind", f.kind);
  r.Str("message", f.message);
  r.Str("hint", f.hint);
  if (!r.Finish().ok()) return r.status();
  return f;
}

}  // namespace populi::mesh
