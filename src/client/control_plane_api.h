// The control plane's HTTP API (docs/api.md, docs/tasks.md) as typed calls: request bodies are
// the mesh types' ToJson, replies are read by the mesh codecs (mesh/json.h, mesh/task_json.h,
// mesh/replies_json.h). This is how the CLI, the node agent and the tests talk to a control plane;
// nobody outside mesh/ spells the wire JSON by hand.
//
// Errors, as Status:
//  * transport: kUnavailable naming the URL, kTimeout (HttpClient);
//  * an error reply: the code, message and hint of its {"error":{…}} body (HttpClient);
//  * a 2xx reply this client cannot read — not JSON, a field of the wrong type, an unknown enum
//    value — kInternal naming the request and the field path, with a version hint. Unknown fields
//    are ignored, so a newer control plane that only adds fields is read as before.
//
// Calls run one at a time on one connection (HttpClient's contract): use one ControlPlaneApi per
// thread for parallel calls. Asio and Beast stay behind HttpClient (client/connection.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/http_client.h"
#include "mesh/audit.h"
#include "mesh/inference.h"
#include "mesh/inventory.h"
#include "mesh/json.h"
#include "mesh/pairing.h"
#include "mesh/replies.h"
#include "mesh/task.h"
#include "mesh/types.h"
#include "obs/span.h"
#include "util/status.h"

namespace populi::client {

struct CallOptions {
  int timeout_ms = 0;  // whole-call limit; 0 = the API's default (a long-poll adds its wait)
};

// GET /v1/populi/tasks filters; empty / 0 = the control plane's default.
struct TaskQuery {
  std::string state;  // a task state name
  int limit = 0;
};

// What a submit gave: the task, and whether this call created it (201) or the control plane
// already had a task with the spec's client_key (200, the same task).
// GET /v1/populi/events: ids after `after`; `kind` is comma-separated kinds or prefixes ending
// in '.' ("node.,lease.expired"); `node` keeps events about that node.
struct EventQuery {
  int64_t after = 0;
  int limit = 100;
  std::string kind;
  std::string node;
};

// GET /v1/populi/models filters; empty = every model, every node.
struct ModelQuery {
  std::string model;  // an entry's id or name
  std::string node;
};

struct Submitted {
  mesh::Task task;
  bool created = false;
};

// Receives each log record of a followed task once, in seq order.
using LogRecordSink = std::function<void(const mesh::LogRecord&)>;

class ControlPlaneApi {
 public:
  // base_url "http(s)://host:port"; token empty = no credential.
  explicit ControlPlaneApi(std::string base_url, std::string token = {});
  ~ControlPlaneApi();
  ControlPlaneApi(ControlPlaneApi&&) noexcept;
  ControlPlaneApi& operator=(ControlPlaneApi&&) noexcept;

  // The transport, for its settings (retries, node id, CA file).
  HttpClient& http() { return *http_; }
  const std::string& base_url() const { return http_->base_url(); }
  void set_default_timeout_ms(int ms) { default_timeout_ms_ = ms; }

  // ---- the inference relay (docs/inference.md) ----
  // The node's next front-door job, waiting up to wait_ms for one (nullopt when none came).
  Result<std::optional<mesh::InferenceJob>> NextInferenceJob(const std::string& node_id,
                                                             int64_t wait_ms,
                                                             CallOptions options = {});
  // A chunk of a job's engine answer; the reply says whether to cancel the engine request.
  Result<mesh::InferenceChunkReply> PostInferenceChunk(const mesh::InferenceChunk& chunk,
                                                       CallOptions options = {});
  // Waits up to wait_ms for a job's answer to be no longer wanted (the client went away, its
  // deadline passed, another node took over): reply.cancel true then, false when the wait ran
  // out. For the time before an engine's first output, when no chunk reply can say so.
  Result<mesh::InferenceChunkReply> WaitInferenceCancel(const std::string& job_id, int64_t wait_ms,
                                                        CallOptions options = {});
  // How a front-door request was routed (its attempts).
  Result<mesh::InferenceExplanation> ExplainInference(const std::string& request_id,
                                                      CallOptions options = {});

  // ---- system ----
  Result<mesh::Health> Health(CallOptions options = {});  // an open route
  Result<mesh::VersionInfo> Version(CallOptions options = {});
  // Events with id > after, oldest first, at most `limit` (the control plane clamps 1..1000).
  Result<mesh::EventPage> Events(int64_t after, int limit, CallOptions options = {});
  // The same with the kind / node filters (docs/events.md); event_api.cc.
  Result<mesh::EventPage> Events(const EventQuery& query, CallOptions options = {});
  // Follows the event stream (server-sent events) from query.after: on_event gets each matching
  // event once, in id order. A dropped connection or a stream the server ended is resumed with
  // Last-Event-ID after a backoff (100 ms doubling to 5 s, reset by an event), so nothing is
  // lost or repeated. Returns ok once on_event returns false, or an error retrying cannot fix
  // (unauthenticated, permission denied, invalid argument, an event it cannot read).
  Status FollowEvents(const EventQuery& query,
                      const std::function<bool(const mesh::Event&)>& on_event);

  // ---- traces ----
  // An agent's recorded spans (at most obs::kMaxSpansPerBatch per call).
  Status SendSpans(const std::vector<obs::Span>& spans, CallOptions options = {});
  // The spans of trace `trace_id` (32 hex) the control plane holds, by start time.
  Result<std::vector<obs::Span>> Trace(const std::string& trace_id, CallOptions options = {});

  // ---- nodes ----
  Result<mesh::NodeList> Nodes(CallOptions options = {});
  Result<mesh::JoinReply> Join(const mesh::NodeRecord& record, CallOptions options = {});
  Result<mesh::HeartbeatReply> Heartbeat(const mesh::HeartbeatRequest& request,
                                         CallOptions options = {});
  Status Leave(const mesh::LeaveRequest& request, CallOptions options = {});

  // ---- the model inventory (docs/models.md) ----
  // PUT /v1/populi/models/{node_id}: an agent's inventory report. kFailedPrecondition when the
  // control plane holds another generation than the report's base (send the whole inventory).
  Result<mesh::InventoryReportReply> ReportInventory(const mesh::InventoryReport& report,
                                                     CallOptions options = {});
  // GET /v1/populi/models: every model of every node that is not gone, with its holders.
  Result<mesh::MeshModelList> Models(const ModelQuery& query = {}, CallOptions options = {});

  // ---- A2A ----
  Result<mesh::DeliverReply> Deliver(const mesh::NewMessage& message, CallOptions options = {});
  Result<mesh::DeliverBatchReply> DeliverBatch(const mesh::DeliverBatchRequest& request,
                                               CallOptions options = {});
  // Lists (no claimer) or claims (with claimer_node_id) a receiver's messages; with wait_ms the
  // call's default limit is that wait plus 10 s.
  Result<mesh::InboxPage> Inbox(const mesh::InboxRequest& request, CallOptions options = {});
  Result<mesh::AckReply> Ack(const mesh::AckRequest& request, CallOptions options = {});
  Result<mesh::ClaimRenewReply> RenewClaim(const mesh::ClaimRenewRequest& request,
                                           CallOptions options = {});

  // ---- exec leases ----
  Result<mesh::ExecLease> GrantLease(const mesh::LeaseRequest& request, CallOptions options = {});
  Result<mesh::ExecLease> RenewLease(const mesh::LeaseRequest& request, CallOptions options = {});
  Result<mesh::ExecLease> ReleaseLease(const mesh::LeaseRequest& request, CallOptions options = {});
  // Live leases; with live_only false, ended ones still retained too.
  Result<mesh::LeaseList> Leases(bool live_only = true, CallOptions options = {});

  // ---- admin (admin role) ----
  Result<mesh::NodeRecord> Maintenance(const mesh::MaintenanceRequest& request,
                                       CallOptions options = {});
  Result<mesh::NodeRecord> Quarantine(const mesh::QuarantineRequest& request,
                                      CallOptions options = {});
  Result<mesh::ExecLease> RevokeLease(const std::string& lease_id, CallOptions options = {});
  // The audit log: entries with seq > after, oldest first, at most `limit` (the control plane
  // clamps 1..1000), and the chain head read in the same snapshot (docs/audit.md).
  Result<mesh::AuditPage> Audit(int64_t after, int limit, CallOptions options = {});

  // ---- bootstrap (open) ----
  // Pairing relay (docs/secrets.md).
  Result<mesh::Pairing> OfferPairing(const mesh::PairingOffer& offer, CallOptions options = {});
  Result<mesh::Pairing> GetPairing(const std::string& to, const std::string& from,
                                   CallOptions options = {});
  Result<mesh::Pairing> AnswerPairing(const std::string& to, const std::string& from,
                                      const mesh::PairingAnswer& answer, CallOptions options = {});
  Status DeletePairing(const std::string& to, const std::string& from, CallOptions options = {});

  Result<mesh::BootstrapReply> BootstrapExchange(const mesh::BootstrapRequest& request,
                                                 CallOptions options = {});

  // ---- tasks (task_api.cc) ----
  // Sends the spec's client_key as the idempotency-key header too, so a retried submit is safe.
  Result<Submitted> Submit(const mesh::TaskSpec& spec, CallOptions options = {});
  Result<mesh::TaskList> ListTasks(const TaskQuery& query = {}, CallOptions options = {});
  Result<mesh::Task> GetTask(const std::string& id, CallOptions options = {});
  // The task once it has ended, or as it is after `wait_ms` (capped by the control plane); the
  // call's default limit is that wait plus 15 s.
  Result<mesh::Task> Wait(const std::string& id, int64_t wait_ms, CallOptions options = {});
  Result<mesh::Task> Cancel(const std::string& id, CallOptions options = {});
  Result<mesh::TaskExplanation> Explain(const std::string& id, CallOptions options = {});
  // One page of the task's log records after seq `after`.
  Result<mesh::LogPage> Logs(const std::string& id, int64_t after, CallOptions options = {});
  // Every log record after seq `after` until the task has ended, each to `on_record` once:
  // the server-sent event stream first; when it cannot be opened, breaks, or ends without its
  // `end` event, pages of GET …/logs every 200 ms from the last seq seen, so no record is lost
  // or repeated. Returns how the task ended. An unknown task or a refused credential is returned
  // at once, without polling.
  Result<mesh::LogEnd> FollowLogs(const std::string& id, int64_t after,
                                  const LogRecordSink& on_record);

  // ---- the agent's attempt reports (worker role) ----
  // Ok once the control plane accepted the report; the Task it answers with is not read (the
  // agent acts on acceptance alone).
  Status ReportStart(const std::string& task_id, const mesh::AttemptReport& report,
                     CallOptions options = {});
  Status ReportLogs(const std::string& task_id, const mesh::LogsReport& report,
                    CallOptions options = {});
  Status ReportResult(const std::string& task_id, const mesh::ResultReport& report,
                      CallOptions options = {});

 private:
  // options.timeout_ms when set; else a long-poll's wait plus its margin; else the default.
  int Timeout(CallOptions options, int64_t wait_ms = 0, int64_t margin_ms = 0) const;

  std::unique_ptr<HttpClient> http_;
  int default_timeout_ms_ = 30'000;
};

}  // namespace populi::client
