#include "control/api/context.h"

#include <algorithm>
#include <charconv>

#include <boost/json.hpp>

namespace populi::control {

using http::Role;

std::vector<Role> AnyRole() {
  return {Role::kReadOnly, Role::kSubmitter, Role::kWorker, Role::kMesh, Role::kAdmin};
}
std::vector<Role> NodePlaneRoles() {
  return {Role::kWorker, Role::kMesh, Role::kAdmin};
}
std::vector<Role> DeliverRoles() {
  return {Role::kSubmitter, Role::kWorker, Role::kMesh, Role::kAdmin};
}
std::vector<Role> AdminRoles() {
  return {Role::kAdmin};
}

Result<int64_t> QueryIntParam(const http::Request& req, const std::string& name, int64_t fallback) {
  auto it = req.query.find(name);
  if (it == req.query.end() || it->second.empty()) return fallback;
  const std::string& text = it->second;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size() && v >= 0) return v;
  return InvalidArgument("query parameter " + name + " must be a non-negative integer",
                         "e.g. ?" + name + "=0");
}

http::Response Json(const boost::json::value& v, int status) {
  return http::JsonResponse(mesh::Serialize(v), status);
}

http::Response Error(const Status& s, const http::Request& req) {
  return http::ErrorResponse(s, req.request_id);
}

Result<mesh::NodeRecord> RequireActiveNode(ApiContext& ctx, const std::string& node_id,
                                           std::string_view what) {
  POPULI_RETURN_IF_ERROR(mesh::ValidateId("node id", node_id));
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::NodeRecord> node, ctx.store.GetNode(node_id));
  if (!node) {
    return Status(Code::kPermissionDenied, "node " + node_id + " has not joined this mesh",
                  "POST /v1/populi/join before you " + std::string(what));
  }
  if (node->quarantined) {
    return Status(Code::kPermissionDenied, "node " + node_id + " is quarantined",
                  "an admin clears it with POST /v1/populi/admin/quarantine {\"on\":false}");
  }
  if (mesh::InMaintenance(*node, ctx.NowMs())) {
    return Status(Code::kPermissionDenied, "node " + node_id + " is in maintenance",
                  "wait for the window to end or clear it with /v1/populi/admin/maintenance");
  }
  return *node;
}

int64_t ClampLeaseMs(int64_t requested, int64_t fallback) {
  const int64_t v = requested > 0 ? requested : fallback;
  return std::clamp(v, kMinLeaseMs, kMaxLeaseMs);
}

}  // namespace populi::control
