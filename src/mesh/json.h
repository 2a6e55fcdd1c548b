// JSON wire codecs for the mesh vocabulary (mesh/types.h) and the control plane's request and
// response bodies (docs/api.md names every field).
//
// Contract:
//  * Encoding omits absent optionals: empty strings, empty lists/maps and times of 0 (unset).
//    Numbers that carry meaning at 0 (counts, priority, fencing tokens) are always written.
//  * Decoding ignores unknown fields (changes are additive), requires the fields docs/api.md marks
//    required, and rejects wrong types, out-of-range numbers (floats where integers belong, values
//    past int64) and unknown enum strings with kInvalidArgument whose message names the field
//    path ("gpus[1].memory_total_bytes: expected a non-negative integer").
//  * decode(encode(x)) reproduces every field of x.
// Semantic checks (id syntax, vocabularies, sizes) live in mesh/validate.h, not here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "mesh/inference.h"
#include "mesh/json_reader.h"
#include "mesh/types.h"
#include "util/status.h"

namespace populi::mesh {

// Deepest nesting a request body may have; deeper input is rejected before it is built.
inline constexpr size_t kMaxJsonDepth = 32;

// Parses text as one JSON value. Invalid JSON, invalid UTF-8, nesting past max_depth and numbers
// outside the range of a double (which would otherwise become ±infinity and not survive a
// round trip) are kInvalidArgument.
Result<boost::json::value> ParseJson(std::string_view text, size_t max_depth = kMaxJsonDepth);
// kInvalidArgument naming the first number in `v` that is not finite; ok otherwise.
Status RequireFiniteNumbers(const boost::json::value& v);
// Compact serialization.
std::string Serialize(const boost::json::value& value);

// ---- records ----
boost::json::object ToJson(const GpuDevice& gpu);
boost::json::object ToJson(const CpuInfo& cpu);
boost::json::object ToJson(const ProbeFailure& failure);
boost::json::object ToJson(const NodeRecord& node);
boost::json::object ToJson(const NewMessage& msg);
boost::json::object ToJson(const A2AMessage& msg);
boost::json::object ToJson(const ExecLease& lease);
boost::json::object ToJson(const Event& event);  // data_json is embedded as an object
// An event at `now_ms` whose data is `data` serialised (the one way events are built).
Event MakeEvent(int64_t now_ms, std::string kind, std::string subject,
                const boost::json::object& data = {});
// Whether `event` is about node `node_id`: its subject, or the node its data names
// (`node_id`, `holder_node_id`). An event whose data is not a JSON object names no node there.
bool EventConcernsNode(const Event& event, const std::string& node_id);

Result<NodeRecord> NodeRecordFromJson(const boost::json::value& v);
// The probe vocabulary (mesh/probe_json.cc), also read from the probe report and the mock
// fixture: `path` prefixes error paths; `options` carries the hint and the unknown-field rule
// down from an enclosing reader.
Result<GpuDevice> GpuDeviceFromJson(const boost::json::value& v, std::string path = {},
                                    const ReadOptions& options = {});
Result<CpuInfo> CpuInfoFromJson(const boost::json::value& v, std::string path = {},
                                const ReadOptions& options = {});
Result<ProbeFailure> ProbeFailureFromJson(const boost::json::value& v, std::string path = {},
                                          const ReadOptions& options = {});
Result<NewMessage> NewMessageFromJson(const boost::json::value& v);
Result<A2AMessage> A2AMessageFromJson(const boost::json::value& v);
Result<ExecLease> ExecLeaseFromJson(const boost::json::value& v);
Result<Event> EventFromJson(const boost::json::value& v);

// Most messages one inbox request lists or claims.
inline constexpr int32_t kMaxInboxPage = 256;

// ---- request bodies (docs/api.md) ----

// POST /v1/populi/heartbeat. Liveness, and the load the node's engines report of themselves
// (docs/inference.md, "Engine truth"; empty: none does); inventory changes go through join.
struct HeartbeatRequest {
  std::string node_id;
  std::string scope_id;
  std::vector<EngineLoad> engine_load;
};

// POST /v1/populi/leave
struct LeaveRequest {
  std::string node_id;
};

// POST /v1/populi/a2a/inbox. Without claimer_node_id: a read-only page, newest first, of the
// receiver's unacknowledged rows below before_message_id. With it: claims up to max_messages.
struct InboxRequest {
  std::string receiver;
  std::string claimer_node_id;
  int64_t before_message_id = 0;
  int32_t max_messages = 0;  // absent = the route's default; else 1..kMaxInboxPage
  int64_t wait_ms = 0;       // long-poll up to this long when nothing is there (capped)
  int64_t lease_ms = 0;      // claim duration; 0 = the configured default
  // With a claimer: acknowledged in the same transaction, before the claim (unknown ids skipped),
  // presenting ack_claim_token: the claim_token of the claim that took them.
  std::vector<int64_t> ack_message_ids;
  std::string ack_claim_token;
  // With a claimer: this request is that node's agent holding its connection (liveness): if the
  // client closes it while the claim waits, the node is suspect at once (docs/api.md).
  bool hold_liveness = false;
};

// The reply of POST /v1/populi/a2a/inbox.
struct InboxPage {
  std::vector<A2AMessage> messages;
  int64_t next_before_message_id = 0;  // a listing's next page; 0 = none
  std::vector<int64_t> acked;          // a claim's ack_message_ids that it acknowledged
  bool has_acked = false;              // `acked` is written (a claim that acknowledged first)
};

// POST /v1/populi/a2a/deliver-batch: several NewMessages stored in one transaction.
struct DeliverBatchRequest {
  std::vector<NewMessage> messages;
};

// POST /v1/populi/a2a/ack: exactly one of message_id / message_ids.
struct AckRequest {
  std::string receiver;
  int64_t message_id = 0;
  std::vector<int64_t> message_ids;
  std::string claim_token;  // the claim's token; empty only for rows nobody has claimed
};

// POST /v1/populi/a2a/lease-renew
struct ClaimRenewRequest {
  std::string receiver;
  int64_t message_id = 0;
  std::string claimer_node_id;
  std::string claim_token;  // the token the claim returned
  int64_t lease_ms = 0;
};

// POST /v1/populi/exec/lease/{grant,renew,release}, /admin/exec-lease/revoke. Which fields are
// required depends on the route (see the decoders below).
struct LeaseRequest {
  std::string scope_key;
  std::string lease_id;
  std::string holder_node_id;
  int64_t ttl_ms = 0;  // 0 = the configured default
};

// POST /v1/populi/admin/maintenance: `until_ms` (absolute, control plane clock) or `for_ms`.
struct MaintenanceRequest {
  std::string node_id;
  bool on = true;
  int64_t until_ms = 0;
  int64_t for_ms = 0;
};

// POST /v1/populi/admin/quarantine
struct QuarantineRequest {
  std::string node_id;
  bool on = true;
};

// POST /v1/populi/bootstrap/exchange
struct BootstrapRequest {
  std::string bootstrap_token;
};

Result<HeartbeatRequest> HeartbeatRequestFromJson(const boost::json::value& v);
Result<LeaveRequest> LeaveRequestFromJson(const boost::json::value& v);
Result<InboxRequest> InboxRequestFromJson(const boost::json::value& v);
boost::json::object ToJson(const InboxPage& page);
Result<InboxPage> InboxPageFromJson(const boost::json::value& v);
Result<DeliverBatchRequest> DeliverBatchRequestFromJson(const boost::json::value& v);
Result<AckRequest> AckRequestFromJson(const boost::json::value& v);
Result<ClaimRenewRequest> ClaimRenewRequestFromJson(const boost::json::value& v);
enum class LeaseOp { kGrant, kRenew, kRelease, kRevoke };
Result<LeaseRequest> LeaseRequestFromJson(const boost::json::value& v, LeaseOp op);
Result<MaintenanceRequest> MaintenanceRequestFromJson(const boost::json::value& v);
Result<QuarantineRequest> QuarantineRequestFromJson(const boost::json::value& v);
Result<BootstrapRequest> BootstrapRequestFromJson(const boost::json::value& v);

boost::json::object ToJson(const HeartbeatRequest& r);
boost::json::object ToJson(const LeaveRequest& r);
boost::json::object ToJson(const InboxRequest& r);
boost::json::object ToJson(const DeliverBatchRequest& r);
boost::json::object ToJson(const AckRequest& r);
boost::json::object ToJson(const ClaimRenewRequest& r);
boost::json::object ToJson(const LeaseRequest& r);
boost::json::object ToJson(const MaintenanceRequest& r);
boost::json::object ToJson(const QuarantineRequest& r);
boost::json::object ToJson(const BootstrapRequest& r);

}  // namespace populi::mesh
