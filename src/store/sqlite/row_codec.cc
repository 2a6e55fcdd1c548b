#include "store/sqlite/row_codec.h"

#include <boost/json.hpp>
#include <string>

namespace populi::store::sqlite {
namespace json = boost::json;
namespace {

Status CorruptRow(std::string_view what, std::string_view detail) {
  return {Code::kStoreIo, "stored " + std::string(what) + " is unreadable: " + std::string(detail),
          "run `vox populi store check`"};
}

// Non-throwing field readers: a missing or mistyped field keeps the default.
std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

json::object EncodeGpu(const mesh::GpuDevice& g) {
  json::object o;
  o["uuid"] = g.uuid;
  o["name"] = g.name;
  o["vendor"] = g.vendor;
  o["pci_bus_id"] = g.pci_bus_id;
  o["memory_total_bytes"] = g.memory_total_bytes;
  o["memory_used_bytes"] = g.memory_used_bytes;
  o["memory_free_bytes"] = g.memory_free_bytes;
  if (g.utilization_pct) o["utilization_pct"] = *g.utilization_pct;
  if (g.temperature_c) o["temperature_c"] = *g.temperature_c;
  o["driver_version"] = g.driver_version;
  o["cuda_driver_version"] = g.cuda_driver_version;
  o["mig_enabled"] = g.mig_enabled;
  o["source"] = g.source;
  json::array confirmed_by;
  for (const auto& probe : g.confirmed_by) confirmed_by.emplace_back(probe);
  o["confirmed_by"] = std::move(confirmed_by);
  o["memory_allocatable_bytes"] = g.memory_allocatable_bytes;
  return o;
}

mesh::GpuDevice DecodeGpu(const json::object& o) {
  mesh::GpuDevice g;
  g.uuid = Str(o, "uuid");
  g.name = Str(o, "name");
  g.vendor = Str(o, "vendor");
  g.pci_bus_id = Str(o, "pci_bus_id");
  g.memory_total_bytes = static_cast<uint64_t>(Int(o, "memory_total_bytes"));
  g.memory_used_bytes = static_cast<uint64_t>(Int(o, "memory_used_bytes"));
  g.memory_free_bytes = static_cast<uint64_t>(Int(o, "memory_free_bytes"));
  if (o.contains("utilization_pct")) g.utilization_pct = Int(o, "utilization_pct");
  if (o.contains("temperature_c")) g.temperature_c = Int(o, "temperature_c");
  g.driver_version = Str(o, "driver_version");
  g.cuda_driver_version = Str(o, "cuda_driver_version");
  g.mig_enabled = Bool(o, "mig_enabled");
  g.source = Str(o, "source");
  if (const json::array* probes = Arr(o, "confirmed_by")) {
    for (const auto& p : *probes)
      if (p.is_string()) g.confirmed_by.emplace_back(p.get_string());
  }
  g.memory_allocatable_bytes = static_cast<uint64_t>(Int(o, "memory_allocatable_bytes"));
  return g;
}

}  // namespace

std::string EncodeNodeJson(const mesh::NodeRecord& n) {
  json::object o;
  o["id"] = n.id;
  o["version"] = n.version;
  o["scope_id"] = n.scope_id;
  json::object labels;
  for (const auto& [k, v] : n.labels) labels[k] = v;
  o["labels"] = std::move(labels);
  o["visibility"] = mesh::ToString(n.visibility);
  o["trust_tier"] = mesh::ToString(n.trust_tier);
  o["ed25519_pub_key_b64"] = n.ed25519_pub_key_b64;
  o["host"] = n.host;
  json::object cpu;
  cpu["model"] = n.cpu.model;
  cpu["cores"] = n.cpu.cores;
  cpu["threads"] = n.cpu.threads;
  cpu["numa_nodes"] = n.cpu.numa_nodes;
  cpu["memory_total_bytes"] = n.cpu.memory_total_bytes;
  cpu["memory_available_bytes"] = n.cpu.memory_available_bytes;
  o["cpu"] = std::move(cpu);
  json::array gpus;
  for (const auto& g : n.gpus) gpus.push_back(EncodeGpu(g));
  o["gpus"] = std::move(gpus);
  json::array failures;
  for (const auto& f : n.probe_failures) {
    failures.push_back(json::object{
        {"probe", f.probe}, {"kind", f.kind}, {"message", f.message}, {"hint", f.hint}});
  }
  o["probe_failures"] = std::move(failures);
  o["gpu_inventory_source"] = n.gpu_inventory_source;
  o["gpu_truth_layer"] = n.gpu_truth_layer;
  json::array running;
  for (const auto& id : n.running_tasks) running.emplace_back(id);
  o["running_tasks"] = std::move(running);
  return json::serialize(o);
}

Result<mesh::NodeRecord> DecodeNodeJson(std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return CorruptRow("node", ec ? ec.message() : "not an object");
  const json::object& o = parsed.get_object();
  mesh::NodeRecord n;
  n.id = Str(o, "id");
  n.version = Str(o, "version");
  n.scope_id = Str(o, "scope_id");
  if (const json::value* labels = o.if_contains("labels"); labels && labels->is_object()) {
    for (const auto& [k, v] : labels->get_object()) {
      if (v.is_string()) n.labels[std::string(k)] = std::string(v.get_string());
    }
  }
  auto visibility = mesh::ParseVisibility(Str(o, "visibility"));
  if (visibility.ok()) n.visibility = *visibility;
  auto tier = mesh::ParseTrustTier(Str(o, "trust_tier"));
  if (tier.ok()) n.trust_tier = *tier;
  n.ed25519_pub_key_b64 = Str(o, "ed25519_pub_key_b64");
  n.host = Str(o, "host");
  if (const json::value* cpu = o.if_contains("cpu"); cpu && cpu->is_object()) {
    const json::object& c = cpu->get_object();
    n.cpu.model = Str(c, "model");
    n.cpu.cores = static_cast<uint32_t>(Int(c, "cores"));
    n.cpu.threads = static_cast<uint32_t>(Int(c, "threads"));
    n.cpu.numa_nodes = static_cast<uint32_t>(Int(c, "numa_nodes"));
    n.cpu.memory_total_bytes = static_cast<uint64_t>(Int(c, "memory_total_bytes"));
    n.cpu.memory_available_bytes = static_cast<uint64_t>(Int(c, "memory_available_bytes"));
  }
  if (const json::array* gpus = Arr(o, "gpus")) {
    for (const auto& g : *gpus) {
      if (g.is_object()) n.gpus.push_back(DecodeGpu(g.get_object()));
    }
  }
  if (const json::array* failures = Arr(o, "probe_failures")) {
    for (const auto& f : *failures) {
      if (!f.is_object()) continue;
      const json::object& fo = f.get_object();
      n.probe_failures.push_back(
          {Str(fo, "probe"), Str(fo, "kind"), Str(fo, "message"), Str(fo, "hint")});
    }
  }
  n.gpu_inventory_source = Str(o, "gpu_inventory_source");
  n.gpu_truth_layer = Str(o, "gpu_truth_layer");
  if (const json::array* running = Arr(o, "running_tasks")) {
    for (const auto& id : *running)
      if (id.is_string()) n.running_tasks.emplace_back(id.get_string());
  }
  return n;
}

Result<mesh::A2AMessage> ReadMessage(const Stmt& row) {
  mesh::A2AMessage m;
  m.id = row.Int(0);
  m.sender = row.Text(1);
  m.receiver = row.Text(2);
  m.message_type = row.Text(3);
  m.payload = row.Text(4);
  m.idempotency_key = row.Text(5);
  auto privacy = mesh::ParsePrivacyClass(row.Text(6));
  if (!privacy.ok()) return CorruptRow("message", privacy.status().message());
  m.privacy_class = *privacy;
  m.priority = static_cast<uint8_t>(row.Int(7));
  m.task_kind = row.Text(8);
  m.model_id = row.Text(9);
  m.traceparent = row.Text(10);
  m.payload_blake3_hex = row.Text(11);
  m.signature_b64 = row.Text(12);
  m.jwe_payload = row.Text(13);
  m.created_ms = row.Int(14);
  auto state = mesh::ParseMessageState(row.Text(15));
  if (!state.ok()) return CorruptRow("message", state.status().message());
  m.state = *state;
  m.claimer_node_id = row.Text(16);
  m.claim_expires_ms = row.Int(17);
  m.delivery_count = static_cast<int32_t>(row.Int(18));
  m.acked_ms = row.Int(19);
  m.schema_version = static_cast<int>(row.Int(20));
  return m;
}

Result<mesh::ExecLease> ReadLease(const Stmt& row) {
  mesh::ExecLease l;
  l.lease_id = row.Text(0);
  l.scope_key = row.Text(1);
  l.holder_node_id = row.Text(2);
  l.fencing_token = row.Int(3);
  auto state = mesh::ParseLeaseState(row.Text(4));
  if (!state.ok()) return CorruptRow("lease", state.status().message());
  l.state = *state;
  l.granted_ms = row.Int(5);
  l.renewed_ms = row.Int(6);
  l.expires_ms = row.Int(7);
  l.ended_ms = row.Int(8);
  l.schema_version = static_cast<int>(row.Int(9));
  return l;
}

Result<mesh::NodeRecord> ReadNode(const Stmt& row) {
  POPULI_ASSIGN_OR_RETURN(mesh::NodeRecord n, DecodeNodeJson(row.Text(0)));
  auto state = mesh::ParseNodeState(row.Text(1));
  if (!state.ok()) return CorruptRow("node", state.status().message());
  n.state = *state;
  n.joined_ms = row.Int(2);
  n.last_seen_ms = row.Int(3);
  n.maintenance = row.Int(4) != 0;
  n.maintenance_until_ms = row.Int(5);
  n.quarantined = row.Int(6) != 0;
  n.schema_version = static_cast<int>(row.Int(7));
  return n;
}

mesh::Event ReadEvent(const Stmt& row) {
  mesh::Event e;
  e.id = row.Int(0);
  e.ts_ms = row.Int(1);
  e.kind = row.Text(2);
  e.subject = row.Text(3);
  e.data_json = row.Text(4);
  return e;
}

}  // namespace populi::store::sqlite
