#include "mesh/json.h"

#include <cmath>
#include <cstdint>

#include "mesh/json_internal.h"

#include <limits>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace populi::mesh {
namespace json = boost::json;
using namespace json_internal;  // NOLINT(google-build-using-namespace)
namespace {
void ReadNewMessageFields(Reader& r, NewMessage& m) {
  r.Str("sender", m.sender, true);
  r.Str("receiver", m.receiver, true);
  r.Str("message_type", m.message_type, true);
  r.Str("payload", m.payload);
  r.Str("idempotency_key", m.idempotency_key);
  r.Enum("privacy_class", m.privacy_class, ParsePrivacyClass);
  r.Num("priority", m.priority);
  r.Str("task_kind", m.task_kind);
  r.Str("model_id", m.model_id);
  r.Str("traceparent", m.traceparent);
  r.Str("payload_blake3_hex", m.payload_blake3_hex);
  r.Str("signature_b64", m.signature_b64);
  r.Str("jwe_payload", m.jwe_payload);
}

}  // namespace

Result<json::value> ParseJson(std::string_view text, size_t max_depth) {
  json::parse_options options;
  options.max_depth = max_depth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, json::storage_ptr(), options);
  if (ec) {
    return InvalidArgument(
        "the body is not valid JSON: " + ec.message(),
        "send a UTF-8 JSON object nested at most " + std::to_string(max_depth) + " levels deep");
  }
  POPULI_RETURN_IF_ERROR(RequireFiniteNumbers(v));
  return v;
}

Status RequireFiniteNumbers(const json::value& root) {
  // Iterative: depth is already bounded by the parser, but a wide document must not recurse.
  // Each entry remembers its parent and key so the field path is built only for an error.
  struct Entry {
    const json::value* value;
    size_t parent;         // index into `seen`; SIZE_MAX for the root
    std::string_view key;  // object member name; empty for array elements
    size_t index;          // array position
  };
  std::vector<Entry> seen{{&root, SIZE_MAX, {}, 0}};
  for (size_t i = 0; i < seen.size(); ++i) {
    const json::value* v = seen[i].value;
    if (v->is_array()) {
      const auto& arr = v->get_array();
      for (size_t k = 0; k < arr.size(); ++k) seen.push_back({&arr[k], i, {}, k});
    } else if (v->is_object()) {
      for (const auto& kv : v->get_object()) seen.push_back({&kv.value(), i, kv.key(), 0});
    } else if (v->is_double() && !std::isfinite(v->get_double())) {
      std::string path;
      for (size_t at = i; seen[at].parent != SIZE_MAX; at = seen[at].parent) {
        const Entry& e = seen[at];
        const bool in_array = seen[e.parent].value->is_array();
        path = (in_array ? "[" + std::to_string(e.index) + "]" : "." + std::string(e.key)) + path;
      }
      if (!path.empty() && path[0] == '.') path.erase(0, 1);
      return InvalidArgument((path.empty() ? std::string("the body") : path) +
                                 ": number outside the range of a double",
                             "send numbers between -1.7e308 and 1.7e308");
    }
  }
  return Status::Ok();
}

std::string Serialize(const json::value& value) {
  return json::serialize(value);
}

json::object ToJson(const NodeRecord& n) {
  json::object o;
  o["id"] = n.id;
  PutStr(o, "version", n.version);
  PutStr(o, "scope_id", n.scope_id);
  if (!n.labels.empty()) {
    json::object labels;
    for (const auto& [k, v] : n.labels) labels[k] = v;
    o["labels"] = std::move(labels);
  }
  o["visibility"] = ToString(n.visibility);
  o["trust_tier"] = ToString(n.trust_tier);
  PutStr(o, "ed25519_pub_key_b64", n.ed25519_pub_key_b64);
  PutStr(o, "x25519_pub_key_b64", n.x25519_pub_key_b64);
  PutTime(o, "x25519_key_created_ms", n.x25519_key_created_ms);
  PutStr(o, "x25519_key_sig_b64", n.x25519_key_sig_b64);
  if (!n.paired_with.empty()) {
    json::array paired;
    for (const auto& id : n.paired_with) paired.emplace_back(id);
    o["paired_with"] = std::move(paired);
  }
  PutTime(o, "pairings_updated_ms", n.pairings_updated_ms);
  PutStr(o, "host", n.host);
  o["cpu"] = ToJson(n.cpu);
  if (!n.gpus.empty()) {
    json::array gpus;
    for (const auto& g : n.gpus) gpus.push_back(ToJson(g));
    o["gpus"] = std::move(gpus);
  }
  if (!n.probe_failures.empty()) {
    json::array failures;
    for (const auto& f : n.probe_failures) failures.push_back(ToJson(f));
    o["probe_failures"] = std::move(failures);
  }
  PutStr(o, "gpu_inventory_source", n.gpu_inventory_source);
  PutStr(o, "gpu_truth_layer", n.gpu_truth_layer);
  if (!n.running_tasks.empty()) {
    json::array running;
    for (const auto& id : n.running_tasks) running.emplace_back(id);
    o["running_tasks"] = std::move(running);
  }
  json::object donation{{"enabled", n.donation.enabled}, {"min_priority", n.donation.min_priority}};
  if (!n.donation.accepted_kinds.empty()) {
    json::array kinds;
    for (const auto& k : n.donation.accepted_kinds) kinds.emplace_back(k);
    donation["accepted_kinds"] = std::move(kinds);
  }
  o["donation"] = std::move(donation);
  o["state"] = ToString(n.state);
  PutTime(o, "joined_ms", n.joined_ms);
  PutTime(o, "last_seen_ms", n.last_seen_ms);
  o["maintenance"] = n.maintenance;
  PutTime(o, "maintenance_until_ms", n.maintenance_until_ms);
  o["quarantined"] = n.quarantined;
  o["schema_version"] = n.schema_version;
  return o;
}

Result<NodeRecord> NodeRecordFromJson(const json::value& v) {
  Reader r(v, "");
  NodeRecord n;
  r.Str("id", n.id, true);
  r.Str("version", n.version);
  r.Str("scope_id", n.scope_id);
  r.StrMap("labels", n.labels);
  r.Enum("visibility", n.visibility, ParseVisibility);
  r.Enum("trust_tier", n.trust_tier, ParseTrustTier);
  r.Str("ed25519_pub_key_b64", n.ed25519_pub_key_b64);
  r.Str("x25519_pub_key_b64", n.x25519_pub_key_b64);
  r.Int("x25519_key_created_ms", n.x25519_key_created_ms);
  r.Str("x25519_key_sig_b64", n.x25519_key_sig_b64);
  r.Strings("paired_with", n.paired_with);
  r.Int("pairings_updated_ms", n.pairings_updated_ms);
  r.Str("host", n.host);
  if (const json::value* cpu = r.Object("cpu")) {
    auto decoded = CpuInfoFromJson(*cpu, r.Path("cpu"), r.options());
    if (!decoded.ok()) return decoded.status();
    n.cpu = std::move(*decoded);
  }
  r.List("gpus", n.gpus, [&r](const json::value& e, std::string path) {
    return GpuDeviceFromJson(e, std::move(path), r.options());
  });
  r.List("probe_failures", n.probe_failures, [&r](const json::value& e, std::string path) {
    return ProbeFailureFromJson(e, std::move(path), r.options());
  });
  r.Str("gpu_inventory_source", n.gpu_inventory_source);
  r.Str("gpu_truth_layer", n.gpu_truth_layer);
  r.List("running_tasks", n.running_tasks,
         [](const json::value& e, const std::string& path) -> Result<std::string> {
           if (!e.is_string())
             return InvalidArgument(path + ": expected a string",
                                    "see docs/api.md for the field's type");
           return std::string(e.get_string());
         });
  if (r.ok() && r.Raw("donation") != nullptr && !r.Raw("donation")->is_null()) {
    Reader d(*r.Raw("donation"), "donation");
    d.Bool("enabled", n.donation.enabled);
    d.List("accepted_kinds", n.donation.accepted_kinds,
           [](const json::value& e, const std::string& path) -> Result<std::string> {
             if (!e.is_string())
               return InvalidArgument(path + ": expected a string",
                                      "see docs/api.md for the field's type");
             return std::string(e.get_string());
           });
    d.Num("min_priority", n.donation.min_priority);
    if (!d.ok()) return d.status();
  }
  r.Enum("state", n.state, ParseNodeState);
  r.Int("joined_ms", n.joined_ms);
  r.Int("last_seen_ms", n.last_seen_ms);
  r.Bool("maintenance", n.maintenance);
  r.Int("maintenance_until_ms", n.maintenance_until_ms);
  r.Bool("quarantined", n.quarantined);
  r.Num("schema_version", n.schema_version);
  if (!r.ok()) return r.status();
  return n;
}

json::object ToJson(const NewMessage& m) {
  json::object o;
  o["sender"] = m.sender;
  o["receiver"] = m.receiver;
  o["message_type"] = m.message_type;
  o["payload"] = m.payload;
  PutStr(o, "idempotency_key", m.idempotency_key);
  o["privacy_class"] = ToString(m.privacy_class);
  o["priority"] = m.priority;
  PutStr(o, "task_kind", m.task_kind);
  PutStr(o, "model_id", m.model_id);
  PutStr(o, "traceparent", m.traceparent);
  PutStr(o, "payload_blake3_hex", m.payload_blake3_hex);
  PutStr(o, "signature_b64", m.signature_b64);
  PutStr(o, "jwe_payload", m.jwe_payload);
  return o;
}

json::object ToJson(const A2AMessage& m) {
  json::object o = ToJson(static_cast<const NewMessage&>(m));
  o["id"] = m.id;
  PutTime(o, "created_ms", m.created_ms);
  o["state"] = ToString(m.state);
  PutStr(o, "claimer_node_id", m.claimer_node_id);
  PutTime(o, "claim_expires_ms", m.claim_expires_ms);
  PutStr(o, "claim_token", m.claim_token);
  o["delivery_count"] = m.delivery_count;
  PutTime(o, "acked_ms", m.acked_ms);
  o["schema_version"] = m.schema_version;
  return o;
}

Result<NewMessage> NewMessageFromJson(const json::value& v) {
  Reader r(v, "");
  NewMessage m;
  ReadNewMessageFields(r, m);
  if (!r.ok()) return r.status();
  return m;
}

Result<DeliverBatchRequest> DeliverBatchRequestFromJson(const json::value& v) {
  Reader r(v, "");
  DeliverBatchRequest q;
  if (r.ok() && r.Raw("messages") == nullptr) r.Fail("messages", "required field is missing");
  r.List("messages", q.messages, [](const json::value& e, std::string path) -> Result<NewMessage> {
    Reader element(e, std::move(path));
    NewMessage m;
    ReadNewMessageFields(element, m);
    if (!element.ok()) return element.status();
    return m;
  });
  if (!r.ok()) return r.status();
  return q;
}

Result<A2AMessage> A2AMessageFromJson(const json::value& v) {
  Reader r(v, "");
  A2AMessage m;
  ReadNewMessageFields(r, m);
  r.Int("id", m.id, 1, std::numeric_limits<int64_t>::max(), true);
  r.Int("created_ms", m.created_ms);
  r.Enum("state", m.state, ParseMessageState);
  r.Str("claimer_node_id", m.claimer_node_id);
  r.Int("claim_expires_ms", m.claim_expires_ms);
  r.Str("claim_token", m.claim_token);
  r.Num("delivery_count", m.delivery_count);
  r.Int("acked_ms", m.acked_ms);
  r.Num("schema_version", m.schema_version);
  if (!r.ok()) return r.status();
  return m;
}

json::object ToJson(const ExecLease& l) {
  json::object o;
  o["lease_id"] = l.lease_id;
  o["scope_key"] = l.scope_key;
  o["holder_node_id"] = l.holder_node_id;
  o["fencing_token"] = l.fencing_token;
  o["state"] = ToString(l.state);
  PutTime(o, "granted_ms", l.granted_ms);
  PutTime(o, "renewed_ms", l.renewed_ms);
  PutTime(o, "expires_ms", l.expires_ms);
  PutTime(o, "ended_ms", l.ended_ms);
  o["schema_version"] = l.schema_version;
  return o;
}

Result<ExecLease> ExecLeaseFromJson(const json::value& v) {
  Reader r(v, "");
  ExecLease l;
  r.Str("lease_id", l.lease_id, true);
  r.Str("scope_key", l.scope_key, true);
  r.Str("holder_node_id", l.holder_node_id, true);
  r.Int("fencing_token", l.fencing_token);
  r.Enum("state", l.state, ParseLeaseState);
  r.Int("granted_ms", l.granted_ms);
  r.Int("renewed_ms", l.renewed_ms);
  r.Int("expires_ms", l.expires_ms);
  r.Int("ended_ms", l.ended_ms);
  r.Num("schema_version", l.schema_version);
  if (!r.ok()) return r.status();
  return l;
}

json::object ToJson(const Event& e) {
  json::object o;
  o["id"] = e.id;
  o["ts_ms"] = e.ts_ms;
  o["kind"] = e.kind;
  PutStr(o, "subject", e.subject);
  boost::system::error_code ec;
  json::value data = json::parse(e.data_json, ec);
  o["data"] = ec || !data.is_object() ? json::value(json::object()) : std::move(data);
  return o;
}

Result<Event> EventFromJson(const json::value& v) {
  Reader r(v, "");
  Event e;
  r.Int("id", e.id);
  r.Int("ts_ms", e.ts_ms);
  r.Str("kind", e.kind, true);
  r.Str("subject", e.subject);
  if (r.ok() && r.Raw("data") != nullptr && !r.Raw("data")->is_null()) {
    if (!r.Raw("data")->is_object()) {
      r.Fail("data", "expected an object");
    } else {
      e.data_json = json::serialize(*r.Raw("data"));
    }
  }
  if (!r.ok()) return r.status();
  return e;
}

Event MakeEvent(int64_t now_ms, std::string kind, std::string subject,
                const boost::json::object& data) {
  Event e;
  e.ts_ms = now_ms;
  e.kind = std::move(kind);
  e.subject = std::move(subject);
  e.data_json = boost::json::serialize(data);
  return e;
}

bool EventConcernsNode(const Event& event, const std::string& node_id) {
  if (event.subject == node_id) return true;
  boost::system::error_code ec;
  boost::json::value data = boost::json::parse(event.data_json, ec);
  if (ec || !data.is_object()) return false;
  for (const char* field : {"node_id", "holder_node_id"}) {
    const boost::json::value* v = data.as_object().if_contains(field);
    if (v != nullptr && v->is_string() && v->as_string() == node_id) return true;
  }
  return false;
}

}  // namespace populi::mesh
