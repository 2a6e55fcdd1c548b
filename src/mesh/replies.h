// The control plane's reply documents (docs/api.md, docs/tasks.md) as records, for the routes whose
// answer is not a bare record of mesh/types.h or mesh/task.h. Pure data; the codecs are in
// mesh/replies_json.h. The server writes these with the same codecs its clients read them with.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mesh/task.h"
#include "mesh/types.h"

namespace populi::mesh {

// The body of every error reply (docs/api.md).
struct ErrorReply {
  std::string code;  // a util/status.h code name: "not_found", "conflict", …
  std::string message;
  std::string hint;
  std::string request_id;
};

// ---- system ----

// GET /health (open).
struct Health {
  std::string status = "ok";
  std::string version;
};

// GET /v1/populi/version.
struct VersionInfo {
  std::string version;
  std::string wire_version;
  std::string api = "v1";
  std::string scope_id;  // empty = the control plane has no scope
};

// GET /v1/populi/events?after=N&limit=M: oldest first; pass next_after back to continue.
struct EventPage {
  std::vector<Event> events;
  int64_t next_after = 0;
};

// ---- nodes ----

// GET /v1/populi/nodes. `server_time_ms` is the control plane's clock when it answered.
struct NodeList {
  int schema_version = kRecordSchemaVersion;
  int64_t server_time_ms = 0;
  std::vector<NodeRecord> nodes;
};

// POST /v1/populi/join: the stored record plus the liveness settings the agent follows.
struct JoinReply {
  NodeRecord node;
  int64_t heartbeat_ms = 0;   // heartbeat this often
  int64_t down_after_ms = 0;  // silence after which the node is judged down; 0 = not said
};

// POST /v1/populi/heartbeat.
struct HeartbeatReply {
  std::string node_id;
  NodeState state = NodeState::kAlive;
  int64_t server_time_ms = 0;
  int64_t heartbeat_ms = 0;
};

// ---- A2A ----

// One stored message of a deliver or deliver-batch: its id, and whether an earlier delivery with
// the same idempotency key already stored it.
struct DeliverResult {
  int64_t message_id = 0;
  bool duplicate = false;
};

// POST /v1/populi/a2a/deliver.
struct DeliverReply : DeliverResult {
  bool accepted = true;
};

// POST /v1/populi/a2a/deliver-batch: one result per message, in request order.
struct DeliverBatchReply {
  bool accepted = true;
  std::vector<DeliverResult> results;
};

// POST /v1/populi/a2a/ack: the ids it acknowledged (unknown ids in a list are skipped), and the
// ids of a list that its claim_token could not end.
struct AckReply {
  std::vector<int64_t> acked;
  std::vector<int64_t> fenced;
};

// POST /v1/populi/a2a/lease-renew.
struct ClaimRenewReply {
  int64_t message_id = 0;
  int64_t claim_expires_ms = 0;
};

// ---- exec leases, bootstrap ----

// GET /v1/populi/exec/leases.
struct LeaseList {
  std::vector<ExecLease> leases;
};

// POST /v1/populi/bootstrap/exchange.
struct BootstrapReply {
  std::string mesh_token;
  std::string scope_id;
};

// ---- tasks ----

// GET /v1/populi/tasks: newest first.
struct TaskList {
  std::vector<Task> tasks;
};

// One record of a task's output, as a log page and the `log` server-sent event carry it.
// `stream` is stdout, stderr or system.
struct LogRecord {
  int64_t seq = 0;  // increasing per task; ask for records after the last one seen
  int32_t attempt = 0;
  std::string stream;
  std::string data;
  int64_t ts_ms = 0;
};

// GET /v1/populi/tasks/{id}/logs?after=SEQ: the records after SEQ (at most a page), the seq to ask
// after next, and the task's state when the page was read.
struct LogPage {
  std::vector<LogRecord> logs;
  int64_t next_after = 0;
  TaskState state = TaskState::kPending;
};

// The final `end` server-sent event of a log stream.
struct LogEnd {
  TaskState state = TaskState::kPending;
  int32_t exit_code = -1;
};

// One attempt as `explain` shows it.
struct ExplainedAttempt {
  int32_t number = 0;
  std::string node_id;
  DispatchKind dispatch = DispatchKind::kRemote;
  AttemptState state = AttemptState::kPlaced;
  std::string placement_summary;
  std::string error;
  int32_t exit_code = -1;
};

// GET /v1/populi/tasks/{id}/explain.
struct TaskExplanation {
  std::string task_id;
  TaskState state = TaskState::kPending;
  std::string pending_reason;
  std::vector<ExplainedAttempt> attempts;
};

// What explain says about `task`.
TaskExplanation Explain(const Task& task);

}  // namespace populi::mesh
