// JSON wire codecs for the control plane's reply documents (mesh/replies.h); docs/api.md and
// docs/tasks.md name every field.
//
// Same contract as mesh/json.h: decoding ignores unknown fields and treats null as absent, and a
// wrong type, an out-of-range number or an unknown enum string is kInvalidArgument whose message
// names the field path, into nested records too ("nodes[1].gpus[0].memory_total_bytes: …",
// "logs[2].stream: …"). Encoding writes each document in the shape the server has always sent it:
// list envelopes always carry their list, and explain writes every attempt field.
// decode(encode(x)) reproduces every field of x.
//
// Required on decode: the list of every list envelope, NodeList.server_time_ms,
// JoinReply.heartbeat_ms (with the record's own required fields), HeartbeatReply.node_id,
// Health.status, VersionInfo.version, DeliverReply.message_id, ClaimRenewReply.message_id,
// BootstrapReply.mesh_token, LogRecord.seq and .stream, LogPage.state, LogEnd.state,
// TaskExplanation.task_id and .state.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mesh/replies.h"
#include "util/status.h"

namespace populi::mesh {

// {"error":{"code","message","hint","request_id"}}; `error` and its `code` are required.
boost::json::object ToJson(const ErrorReply& r);
Result<ErrorReply> ErrorReplyFromJson(const boost::json::value& v);

boost::json::object ToJson(const Health& r);
boost::json::object ToJson(const VersionInfo& r);
boost::json::object ToJson(const EventPage& r);
boost::json::object ToJson(const NodeList& r);
boost::json::object ToJson(const JoinReply& r);
boost::json::object ToJson(const HeartbeatReply& r);
boost::json::object ToJson(const DeliverReply& r);
boost::json::object ToJson(const DeliverBatchReply& r);
boost::json::object ToJson(const AckReply& r);
boost::json::object ToJson(const ClaimRenewReply& r);
boost::json::object ToJson(const LeaseList& r);
boost::json::object ToJson(const BootstrapReply& r);

Result<Health> HealthFromJson(const boost::json::value& v);
Result<VersionInfo> VersionInfoFromJson(const boost::json::value& v);
Result<EventPage> EventPageFromJson(const boost::json::value& v);
Result<NodeList> NodeListFromJson(const boost::json::value& v);
Result<JoinReply> JoinReplyFromJson(const boost::json::value& v);
Result<HeartbeatReply> HeartbeatReplyFromJson(const boost::json::value& v);
Result<DeliverReply> DeliverReplyFromJson(const boost::json::value& v);
Result<DeliverBatchReply> DeliverBatchReplyFromJson(const boost::json::value& v);
Result<AckReply> AckReplyFromJson(const boost::json::value& v);
Result<ClaimRenewReply> ClaimRenewReplyFromJson(const boost::json::value& v);
Result<LeaseList> LeaseListFromJson(const boost::json::value& v);
Result<BootstrapReply> BootstrapReplyFromJson(const boost::json::value& v);

// ---- tasks (task_replies_json.cc) ----

boost::json::object ToJson(const TaskList& r);
boost::json::object ToJson(const LogRecord& r);
boost::json::object ToJson(const LogPage& r);
boost::json::object ToJson(const LogEnd& r);
boost::json::object ToJson(const TaskExplanation& r);

Result<TaskList> TaskListFromJson(const boost::json::value& v);
// A record's stream must be stdout, stderr or system.
Result<LogRecord> LogRecordFromJson(const boost::json::value& v);
Result<LogPage> LogPageFromJson(const boost::json::value& v);
Result<LogEnd> LogEndFromJson(const boost::json::value& v);
Result<TaskExplanation> TaskExplanationFromJson(const boost::json::value& v);

}  // namespace populi::mesh
