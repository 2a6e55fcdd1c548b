// Codecs of the system, node, A2A, lease and bootstrap replies (mesh/replies_json.h); the task
// replies are in task_replies_json.cc.
#include "mesh/replies_json.h"

#include <limits>
#include <utility>

#include "mesh/json.h"
#include "mesh/json_internal.h"

namespace populi::mesh {
namespace json = boost::json;
using namespace json_internal;  // NOLINT(google-build-using-namespace)
namespace {

constexpr int64_t kMaxId = std::numeric_limits<int64_t>::max();

json::array Ids(const std::vector<int64_t>& ids) {
  json::array out;
  for (int64_t id : ids) out.push_back(id);
  return out;
}

void ReadDeliverResult(Reader& r, DeliverResult& out) {
  r.Int("message_id", out.message_id, 1, kMaxId, true);
  r.Bool("duplicate", out.duplicate);
}

Result<DeliverResult> DeliverResultAt(const json::value& v, const std::string& path) {
  Reader r(v, path);
  DeliverResult out;
  ReadDeliverResult(r, out);
  if (!r.ok()) return r.status();
  return out;
}

}  // namespace

json::object ToJson(const ErrorReply& e) {
  return json::object{{"error", json::object{{"code", e.code},
                                             {"message", e.message},
                                             {"hint", e.hint},
                                             {"request_id", e.request_id}}}};
}

Result<ErrorReply> ErrorReplyFromJson(const json::value& v) {
  Reader r(v, "");
  if (r.ok() && (r.Raw("error") == nullptr || r.Raw("error")->is_null()))
    r.Fail("error", "required field is missing");
  if (!r.ok()) return r.status();
  Reader f(*r.Raw("error"), "error");
  ErrorReply e;
  f.Str("code", e.code, true);
  f.Str("message", e.message);
  f.Str("hint", e.hint);
  f.Str("request_id", e.request_id);
  if (!f.ok()) return f.status();
  return e;
}

// ---- system ----

json::object ToJson(const Health& h) {
  return json::object{{"status", h.status}, {"version", h.version}};
}

Result<Health> HealthFromJson(const json::value& v) {
  Reader r(v, "");
  Health h;
  r.Str("status", h.status, true);
  r.Str("version", h.version);
  if (!r.ok()) return r.status();
  return h;
}

json::object ToJson(const VersionInfo& i) {
  json::object o{{"version", i.version}, {"wire_version", i.wire_version}, {"api", i.api}};
  PutStr(o, "scope_id", i.scope_id);
  return o;
}

Result<VersionInfo> VersionInfoFromJson(const json::value& v) {
  Reader r(v, "");
  VersionInfo i;
  r.Str("version", i.version, true);
  r.Str("wire_version", i.wire_version);
  r.Str("api", i.api);
  r.Str("scope_id", i.scope_id);
  if (!r.ok()) return r.status();
  return i;
}

json::object ToJson(const EventPage& p) {
  json::array events;
  for (const Event& e : p.events) events.push_back(ToJson(e));
  return json::object{{"events", std::move(events)}, {"next_after", p.next_after}};
}

Result<EventPage> EventPageFromJson(const json::value& v) {
  Reader r(v, "");
  EventPage p;
  RequiredList(r, "events", p.events, Element(EventFromJson));
  r.Int("next_after", p.next_after);
  if (!r.ok()) return r.status();
  return p;
}

// ---- nodes ----

json::object ToJson(const NodeList& l) {
  json::array nodes;
  for (const NodeRecord& n : l.nodes) nodes.push_back(ToJson(n));
  return json::object{{"schema_version", l.schema_version},
                      {"server_time_ms", l.server_time_ms},
                      {"nodes", std::move(nodes)}};
}

Result<NodeList> NodeListFromJson(const json::value& v) {
  Reader r(v, "");
  NodeList l;
  r.Num("schema_version", l.schema_version);
  r.Int("server_time_ms", l.server_time_ms, 0, kMaxId, true);
  RequiredList(r, "nodes", l.nodes, Element(NodeRecordFromJson));
  if (!r.ok()) return r.status();
  return l;
}

json::object ToJson(const JoinReply& j) {
  json::object o = ToJson(j.node);
  o["heartbeat_ms"] = j.heartbeat_ms;
  o["down_after_ms"] = j.down_after_ms;
  return o;
}

Result<JoinReply> JoinReplyFromJson(const json::value& v) {
  JoinReply j;
  POPULI_ASSIGN_OR_RETURN(j.node, NodeRecordFromJson(v));
  Reader r(v, "");
  r.Int("heartbeat_ms", j.heartbeat_ms, 0, kMaxId, true);
  r.Int("down_after_ms", j.down_after_ms);
  if (!r.ok()) return r.status();
  return j;
}

json::object ToJson(const HeartbeatReply& h) {
  return json::object{{"node_id", h.node_id},
                      {"state", ToString(h.state)},
                      {"server_time_ms", h.server_time_ms},
                      {"heartbeat_ms", h.heartbeat_ms}};
}

Result<HeartbeatReply> HeartbeatReplyFromJson(const json::value& v) {
  Reader r(v, "");
  HeartbeatReply h;
  r.Str("node_id", h.node_id, true);
  r.Enum("state", h.state, ParseNodeState);
  r.Int("server_time_ms", h.server_time_ms);
  r.Int("heartbeat_ms", h.heartbeat_ms);
  if (!r.ok()) return r.status();
  return h;
}

// ---- A2A ----

json::object ToJson(const DeliverReply& d) {
  return json::object{
      {"accepted", d.accepted}, {"message_id", d.message_id}, {"duplicate", d.duplicate}};
}

Result<DeliverReply> DeliverReplyFromJson(const json::value& v) {
  Reader r(v, "");
  DeliverReply d;
  r.Bool("accepted", d.accepted);
  ReadDeliverResult(r, d);
  if (!r.ok()) return r.status();
  return d;
}

json::object ToJson(const DeliverBatchReply& b) {
  json::array results;
  for (const DeliverResult& d : b.results)
    results.push_back(json::object{{"message_id", d.message_id}, {"duplicate", d.duplicate}});
  return json::object{{"accepted", b.accepted}, {"results", std::move(results)}};
}

Result<DeliverBatchReply> DeliverBatchReplyFromJson(const json::value& v) {
  Reader r(v, "");
  DeliverBatchReply b;
  r.Bool("accepted", b.accepted);
  RequiredList(r, "results", b.results, DeliverResultAt);
  if (!r.ok()) return r.status();
  return b;
}

json::object ToJson(const AckReply& a) {
  json::object o{{"acked", Ids(a.acked)}};
  if (!a.fenced.empty()) o["fenced"] = Ids(a.fenced);
  return o;
}

Result<AckReply> AckReplyFromJson(const json::value& v) {
  Reader r(v, "");
  AckReply a;
  RequiredList(r, "acked", a.acked, MessageIdAt);
  r.List("fenced", a.fenced, MessageIdAt);
  if (!r.ok()) return r.status();
  return a;
}

json::object ToJson(const ClaimRenewReply& c) {
  return json::object{{"message_id", c.message_id}, {"claim_expires_ms", c.claim_expires_ms}};
}

Result<ClaimRenewReply> ClaimRenewReplyFromJson(const json::value& v) {
  Reader r(v, "");
  ClaimRenewReply c;
  r.Int("message_id", c.message_id, 1, kMaxId, true);
  r.Int("claim_expires_ms", c.claim_expires_ms);
  if (!r.ok()) return r.status();
  return c;
}

// ---- exec leases, bootstrap ----

json::object ToJson(const LeaseList& l) {
  json::array leases;
  for (const ExecLease& lease : l.leases) leases.push_back(ToJson(lease));
  return json::object{{"leases", std::move(leases)}};
}

Result<LeaseList> LeaseListFromJson(const json::value& v) {
  Reader r(v, "");
  LeaseList l;
  RequiredList(r, "leases", l.leases, Element(ExecLeaseFromJson));
  if (!r.ok()) return r.status();
  return l;
}

json::object ToJson(const BootstrapReply& b) {
  json::object o{{"mesh_token", b.mesh_token}};
  PutStr(o, "scope_id", b.scope_id);
  return o;
}

Result<BootstrapReply> BootstrapReplyFromJson(const json::value& v) {
  Reader r(v, "");
  BootstrapReply b;
  r.Str("mesh_token", b.mesh_token, true);
  r.Str("scope_id", b.scope_id);
  if (!r.ok()) return r.status();
  return b;
}

}  // namespace populi::mesh
