// GET /v1/populi/audit: the tamper-evident audit log, paged, with the chain head (docs/audit.md).
#include <algorithm>
#include <boost/json.hpp>

#include "control/api/routes.h"
#include "control/audit_recorder.h"
#include "mesh/audit_json.h"

namespace populi::control {
namespace json = boost::json;

mesh::AuditRecord AuditOf(const http::Request& req, int64_t now_ms, std::string kind,
                          std::string subject, const json::object& data) {
  json::object with_role = data;
  if (!req.principal.anonymous) with_role["role"] = http::ToString(req.principal.role);
  if (!req.remote_addr.empty()) with_role["remote_addr"] = req.remote_addr;
  return mesh::AuditRecord{now_ms, std::move(kind), AuditActor(req.principal), std::move(subject),
                           json::serialize(with_role)};
}

void AddAuditRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kGet, "/v1/populi/audit", AdminRoles(), 0, "audit.list",
              [&ctx](http::Request& req) {
                auto after = QueryIntParam(req, "after", 0);
                if (!after.ok()) return Error(after.status(), req);
                auto limit = QueryIntParam(req, "limit", 100);
                if (!limit.ok()) return Error(limit.status(), req);
                const int n = static_cast<int>(std::clamp<int64_t>(*limit, 1, 1000));
                auto page = ctx.store.ListAudit(*after, n);
                if (!page.ok()) return Error(page.status(), req);
                return Json(mesh::ToJson(*page));
              }});
}

}  // namespace populi::control
