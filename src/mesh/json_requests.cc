// Codecs of the request bodies (docs/api.md); the record codecs are in json.cc.
#include "mesh/inference_json.h"
#include "mesh/json.h"
#include "mesh/json_internal.h"

namespace populi::mesh {
namespace json = boost::json;
using namespace json_internal;  // NOLINT(google-build-using-namespace)

// ---- request bodies ----

Result<HeartbeatRequest> HeartbeatRequestFromJson(const json::value& v) {
  Reader r(v, "");
  HeartbeatRequest q;
  r.Str("node_id", q.node_id, true);
  r.Str("scope_id", q.scope_id);
  r.List("engine_load", q.engine_load, Element(EngineLoadFromJson));
  if (!r.ok()) return r.status();
  if (Status s = ValidateEngineLoads(q.engine_load); !s.ok()) return s;
  return q;
}

Result<LeaveRequest> LeaveRequestFromJson(const json::value& v) {
  Reader r(v, "");
  LeaveRequest q;
  r.Str("node_id", q.node_id, true);
  if (!r.ok()) return r.status();
  return q;
}

Result<InboxRequest> InboxRequestFromJson(const json::value& v) {
  Reader r(v, "");
  InboxRequest q;
  r.Str("receiver", q.receiver, true);
  r.Str("claimer_node_id", q.claimer_node_id);
  r.Int("before_message_id", q.before_message_id);
  int64_t max_messages = 0;
  r.Int("max_messages", max_messages, 1, kMaxInboxPage);
  q.max_messages = static_cast<int32_t>(max_messages);
  r.Int("wait_ms", q.wait_ms);
  r.Int("lease_ms", q.lease_ms);
  r.List("ack_message_ids", q.ack_message_ids, MessageIdAt);
  r.Str("ack_claim_token", q.ack_claim_token);
  r.Bool("hold_liveness", q.hold_liveness);
  if (!r.ok()) return r.status();
  return q;
}

Result<AckRequest> AckRequestFromJson(const json::value& v) {
  Reader r(v, "");
  AckRequest q;
  r.Str("receiver", q.receiver, true);
  r.Int("message_id", q.message_id, 1);
  r.List("message_ids", q.message_ids, MessageIdAt);
  r.Str("claim_token", q.claim_token);
  if (r.ok() && (q.message_id == 0) == (r.Raw("message_ids") == nullptr))
    r.Fail("", "give exactly one of message_id and message_ids");
  if (!r.ok()) return r.status();
  return q;
}

Result<ClaimRenewRequest> ClaimRenewRequestFromJson(const json::value& v) {
  Reader r(v, "");
  ClaimRenewRequest q;
  r.Str("receiver", q.receiver, true);
  r.Int("message_id", q.message_id, 1, std::numeric_limits<int64_t>::max(), true);
  r.Str("claimer_node_id", q.claimer_node_id, true);
  r.Str("claim_token", q.claim_token, true);
  r.Int("lease_ms", q.lease_ms);
  if (!r.ok()) return r.status();
  return q;
}

Result<LeaseRequest> LeaseRequestFromJson(const json::value& v, LeaseOp op) {
  Reader r(v, "");
  LeaseRequest q;
  r.Str("scope_key", q.scope_key, op == LeaseOp::kGrant);
  r.Str("lease_id", q.lease_id, op != LeaseOp::kGrant);
  r.Str("holder_node_id", q.holder_node_id, op != LeaseOp::kRevoke);
  r.Int("ttl_ms", q.ttl_ms);
  if (!r.ok()) return r.status();
  return q;
}

Result<MaintenanceRequest> MaintenanceRequestFromJson(const json::value& v) {
  Reader r(v, "");
  MaintenanceRequest q;
  r.Str("node_id", q.node_id, true);
  r.Bool("on", q.on);
  r.Int("until_ms", q.until_ms);
  r.Int("for_ms", q.for_ms);
  if (r.ok() && q.until_ms != 0 && q.for_ms != 0)
    r.Fail("", "give at most one of until_ms and for_ms");
  if (!r.ok()) return r.status();
  return q;
}

Result<QuarantineRequest> QuarantineRequestFromJson(const json::value& v) {
  Reader r(v, "");
  QuarantineRequest q;
  r.Str("node_id", q.node_id, true);
  r.Bool("on", q.on);
  if (!r.ok()) return r.status();
  return q;
}

Result<BootstrapRequest> BootstrapRequestFromJson(const json::value& v) {
  Reader r(v, "");
  BootstrapRequest q;
  r.Str("bootstrap_token", q.bootstrap_token, true);
  if (!r.ok()) return r.status();
  return q;
}

json::object ToJson(const HeartbeatRequest& q) {
  json::object o;
  o["node_id"] = q.node_id;
  PutStr(o, "scope_id", q.scope_id);
  if (!q.engine_load.empty()) {
    json::array loads;
    for (const auto& l : q.engine_load) loads.emplace_back(ToJson(l));
    o["engine_load"] = std::move(loads);
  }
  return o;
}
json::object ToJson(const LeaveRequest& q) {
  return json::object{{"node_id", q.node_id}};
}
json::object ToJson(const InboxRequest& q) {
  json::object o{{"receiver", q.receiver}};
  PutStr(o, "claimer_node_id", q.claimer_node_id);
  if (q.before_message_id != 0) o["before_message_id"] = q.before_message_id;
  if (q.max_messages != 0) o["max_messages"] = q.max_messages;
  if (q.wait_ms != 0) o["wait_ms"] = q.wait_ms;
  if (q.lease_ms != 0) o["lease_ms"] = q.lease_ms;
  if (!q.ack_message_ids.empty()) {
    json::array ids;
    for (int64_t id : q.ack_message_ids) ids.push_back(id);
    o["ack_message_ids"] = std::move(ids);
  }
  PutStr(o, "ack_claim_token", q.ack_claim_token);
  if (q.hold_liveness) o["hold_liveness"] = true;
  return o;
}
json::object ToJson(const DeliverBatchRequest& q) {
  json::array messages;
  for (const NewMessage& m : q.messages) messages.push_back(ToJson(m));
  return json::object{{"messages", std::move(messages)}};
}
json::object ToJson(const AckRequest& q) {
  json::object o{{"receiver", q.receiver}};
  if (q.message_id != 0) o["message_id"] = q.message_id;
  if (!q.message_ids.empty()) {
    json::array ids;
    for (int64_t id : q.message_ids) ids.push_back(id);
    o["message_ids"] = std::move(ids);
  }
  PutStr(o, "claim_token", q.claim_token);
  return o;
}
json::object ToJson(const ClaimRenewRequest& q) {
  json::object o{{"receiver", q.receiver},
                 {"message_id", q.message_id},
                 {"claimer_node_id", q.claimer_node_id},
                 {"claim_token", q.claim_token}};
  if (q.lease_ms != 0) o["lease_ms"] = q.lease_ms;
  return o;
}
json::object ToJson(const LeaseRequest& q) {
  json::object o;
  PutStr(o, "scope_key", q.scope_key);
  PutStr(o, "lease_id", q.lease_id);
  PutStr(o, "holder_node_id", q.holder_node_id);
  if (q.ttl_ms != 0) o["ttl_ms"] = q.ttl_ms;
  return o;
}
json::object ToJson(const MaintenanceRequest& q) {
  json::object o{{"node_id", q.node_id}, {"on", q.on}};
  if (q.until_ms != 0) o["until_ms"] = q.until_ms;
  if (q.for_ms != 0) o["for_ms"] = q.for_ms;
  return o;
}
json::object ToJson(const QuarantineRequest& q) {
  return json::object{{"node_id", q.node_id}, {"on", q.on}};
}
json::object ToJson(const BootstrapRequest& q) {
  return json::object{{"bootstrap_token", q.bootstrap_token}};
}

json::object ToJson(const InboxPage& page) {
  json::array messages;
  for (const auto& m : page.messages) messages.push_back(ToJson(m));
  json::object o{{"messages", std::move(messages)}};
  if (page.has_acked) {
    json::array ids;
    for (int64_t id : page.acked) ids.push_back(id);
    o["acked"] = std::move(ids);
  }
  if (page.next_before_message_id != 0) o["next_before_message_id"] = page.next_before_message_id;
  return o;
}

Result<InboxPage> InboxPageFromJson(const json::value& v) {
  Reader r(v, "");
  InboxPage page;
  RequiredList(r, "messages", page.messages, Element(A2AMessageFromJson));
  page.has_acked = r.Raw("acked") != nullptr;
  r.List("acked", page.acked, MessageIdAt);
  r.Int("next_before_message_id", page.next_before_message_id);
  if (!r.ok()) return r.status();
  return page;
}

}  // namespace populi::mesh
