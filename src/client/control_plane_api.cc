// ControlPlaneApi: system, node, A2A, exec lease, admin and bootstrap calls (the task calls are in
// task_api.cc).
#include "client/control_plane_api.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include "client/api_call.h"
#include "mesh/audit_json.h"
#include "mesh/inventory_json.h"
#include "mesh/json.h"
#include "mesh/replies_json.h"

namespace populi::client {

namespace internal {

std::string Escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

Status MalformedReply(const std::string& url, const std::string& request, const Status& why) {
  return Internal("the control plane at " + url + " answered " + request +
                      " with a reply this vox cannot read: " + why.message(),
                  "check that vox and the control plane are the same version (`vox version`, "
                  "GET /v1/populi/version)");
}

}  // namespace internal

using internal::Call;

ControlPlaneApi::ControlPlaneApi(std::string base_url, std::string token)
    : http_(std::make_unique<HttpClient>(std::move(base_url), std::move(token))) {}

ControlPlaneApi::~ControlPlaneApi() = default;
ControlPlaneApi::ControlPlaneApi(ControlPlaneApi&&) noexcept = default;
ControlPlaneApi& ControlPlaneApi::operator=(ControlPlaneApi&&) noexcept = default;

int ControlPlaneApi::Timeout(CallOptions options, int64_t wait_ms, int64_t margin_ms) const {
  if (options.timeout_ms > 0) return options.timeout_ms;
  if (wait_ms <= 0) return default_timeout_ms_;
  return static_cast<int>(std::min<int64_t>(wait_ms + margin_ms, std::numeric_limits<int>::max()));
}

// ---- system ----

Result<mesh::Health> ControlPlaneApi::Health(CallOptions options) {
  return Call<mesh::Health>(*http_, "GET", "/health", {}, Timeout(options), mesh::HealthFromJson);
}

Result<mesh::VersionInfo> ControlPlaneApi::Version(CallOptions options) {
  return Call<mesh::VersionInfo>(*http_, "GET", "/v1/populi/version", {}, Timeout(options),
                                 mesh::VersionInfoFromJson);
}

Result<mesh::EventPage> ControlPlaneApi::Events(int64_t after, int limit, CallOptions options) {
  const std::string path =
      "/v1/populi/events?after=" + std::to_string(after) + "&limit=" + std::to_string(limit);
  return Call<mesh::EventPage>(*http_, "GET", path, {}, Timeout(options), mesh::EventPageFromJson);
}

Result<mesh::AuditPage> ControlPlaneApi::Audit(int64_t after, int limit, CallOptions options) {
  const std::string path =
      "/v1/populi/audit?after=" + std::to_string(after) + "&limit=" + std::to_string(limit);
  return Call<mesh::AuditPage>(*http_, "GET", path, {}, Timeout(options), mesh::AuditPageFromJson);
}

// ---- nodes ----

Result<mesh::NodeList> ControlPlaneApi::Nodes(CallOptions options) {
  return Call<mesh::NodeList>(*http_, "GET", "/v1/populi/nodes", {}, Timeout(options),
                              mesh::NodeListFromJson);
}

Result<mesh::JoinReply> ControlPlaneApi::Join(const mesh::NodeRecord& record, CallOptions options) {
  return Call<mesh::JoinReply>(*http_, "POST", "/v1/populi/join",
                               mesh::Serialize(mesh::ToJson(record)), Timeout(options),
                               mesh::JoinReplyFromJson);
}

Result<mesh::HeartbeatReply> ControlPlaneApi::Heartbeat(const mesh::HeartbeatRequest& request,
                                                        CallOptions options) {
  return Call<mesh::HeartbeatReply>(*http_, "POST", "/v1/populi/heartbeat",
                                    mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                                    mesh::HeartbeatReplyFromJson);
}

Status ControlPlaneApi::Leave(const mesh::LeaveRequest& request, CallOptions options) {
  return http_
      ->Send("POST", "/v1/populi/leave", mesh::Serialize(mesh::ToJson(request)), {},
             Timeout(options))
      .status();
}

// ---- the model inventory ----

Result<mesh::InventoryReportReply> ControlPlaneApi::ReportInventory(
    const mesh::InventoryReport& report, CallOptions options) {
  return Call<mesh::InventoryReportReply>(
      *http_, "PUT", "/v1/populi/models/" + internal::Escape(report.node_id),
      mesh::Serialize(mesh::ToJson(report)), Timeout(options), mesh::InventoryReportReplyFromJson);
}

Result<mesh::MeshModelList> ControlPlaneApi::Models(const ModelQuery& query, CallOptions options) {
  std::string path = "/v1/populi/models";
  std::string sep = "?";
  if (!query.model.empty()) {
    path += sep + "model=" + internal::Escape(query.model);
    sep = "&";
  }
  if (!query.node.empty()) path += sep + "node=" + internal::Escape(query.node);
  return Call<mesh::MeshModelList>(*http_, "GET", path, {}, Timeout(options),
                                   mesh::MeshModelListFromJson);
}

// ---- A2A ----

Result<mesh::DeliverReply> ControlPlaneApi::Deliver(const mesh::NewMessage& message,
                                                    CallOptions options) {
  return Call<mesh::DeliverReply>(*http_, "POST", "/v1/populi/a2a/deliver",
                                  mesh::Serialize(mesh::ToJson(message)), Timeout(options),
                                  mesh::DeliverReplyFromJson);
}

Result<mesh::DeliverBatchReply> ControlPlaneApi::DeliverBatch(
    const mesh::DeliverBatchRequest& request, CallOptions options) {
  return Call<mesh::DeliverBatchReply>(*http_, "POST", "/v1/populi/a2a/deliver-batch",
                                       mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                                       mesh::DeliverBatchReplyFromJson);
}

Result<mesh::InboxPage> ControlPlaneApi::Inbox(const mesh::InboxRequest& request,
                                               CallOptions options) {
  return Call<mesh::InboxPage>(*http_, "POST", "/v1/populi/a2a/inbox",
                               mesh::Serialize(mesh::ToJson(request)),
                               Timeout(options, request.wait_ms, 10'000), mesh::InboxPageFromJson);
}

Result<mesh::AckReply> ControlPlaneApi::Ack(const mesh::AckRequest& request, CallOptions options) {
  return Call<mesh::AckReply>(*http_, "POST", "/v1/populi/a2a/ack",
                              mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                              mesh::AckReplyFromJson);
}

Result<mesh::ClaimRenewReply> ControlPlaneApi::RenewClaim(const mesh::ClaimRenewRequest& request,
                                                          CallOptions options) {
  return Call<mesh::ClaimRenewReply>(*http_, "POST", "/v1/populi/a2a/lease-renew",
                                     mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                                     mesh::ClaimRenewReplyFromJson);
}

// ---- exec leases ----

Result<mesh::ExecLease> ControlPlaneApi::GrantLease(const mesh::LeaseRequest& request,
                                                    CallOptions options) {
  return Call<mesh::ExecLease>(*http_, "POST", "/v1/populi/exec/lease/grant",
                               mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                               mesh::ExecLeaseFromJson);
}

Result<mesh::ExecLease> ControlPlaneApi::RenewLease(const mesh::LeaseRequest& request,
                                                    CallOptions options) {
  return Call<mesh::ExecLease>(*http_, "POST", "/v1/populi/exec/lease/renew",
                               mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                               mesh::ExecLeaseFromJson);
}

Result<mesh::ExecLease> ControlPlaneApi::ReleaseLease(const mesh::LeaseRequest& request,
                                                      CallOptions options) {
  return Call<mesh::ExecLease>(*http_, "POST", "/v1/populi/exec/lease/release",
                               mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                               mesh::ExecLeaseFromJson);
}

Result<mesh::LeaseList> ControlPlaneApi::Leases(bool live_only, CallOptions options) {
  const std::string path =
      std::string("/v1/populi/exec/leases") + (live_only ? "" : "?live_only=0");
  return Call<mesh::LeaseList>(*http_, "GET", path, {}, Timeout(options), mesh::LeaseListFromJson);
}

// ---- admin ----

Result<mesh::NodeRecord> ControlPlaneApi::Maintenance(const mesh::MaintenanceRequest& request,
                                                      CallOptions options) {
  return Call<mesh::NodeRecord>(*http_, "POST", "/v1/populi/admin/maintenance",
                                mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                                mesh::NodeRecordFromJson);
}

Result<mesh::NodeRecord> ControlPlaneApi::Quarantine(const mesh::QuarantineRequest& request,
                                                     CallOptions options) {
  return Call<mesh::NodeRecord>(*http_, "POST", "/v1/populi/admin/quarantine",
                                mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                                mesh::NodeRecordFromJson);
}

Result<mesh::ExecLease> ControlPlaneApi::RevokeLease(const std::string& lease_id,
                                                     CallOptions options) {
  mesh::LeaseRequest request;
  request.lease_id = lease_id;
  return Call<mesh::ExecLease>(*http_, "POST", "/v1/populi/admin/exec-lease/revoke",
                               mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                               mesh::ExecLeaseFromJson);
}

// ---- bootstrap ----

Result<mesh::BootstrapReply> ControlPlaneApi::BootstrapExchange(
    const mesh::BootstrapRequest& request, CallOptions options) {
  return Call<mesh::BootstrapReply>(*http_, "POST", "/v1/populi/bootstrap/exchange",
                                    mesh::Serialize(mesh::ToJson(request)), Timeout(options),
                                    mesh::BootstrapReplyFromJson);
}

}  // namespace populi::client
