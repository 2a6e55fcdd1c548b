// GET /health, GET /v1/populi/version, GET /v1/populi/events.
#include <boost/json.hpp>

#include "control/api/routes.h"
#include "mesh/replies_json.h"

namespace populi::control {
namespace json = boost::json;
void AddSystemRoutes(http::Router& router, ApiContext& ctx) {
  // Neither touches the store: both answer on the I/O thread (runs_inline).
  router.Add({http::Method::kGet,
              "/health",
              {},
              0,
              "health",
              [&ctx](http::Request&) {
                return Json(mesh::ToJson(mesh::Health{"ok", ctx.options.version}));
              },
              /*runs_inline=*/true});

  router.Add({http::Method::kGet, "/v1/populi/version", AnyRole(), 0, "version",
              [&ctx](http::Request&) {
                return Json(mesh::ToJson(mesh::VersionInfo{
                    ctx.options.version, ctx.options.wire_version, "v1", ctx.options.scope_id}));
              },
              /*runs_inline=*/true});

  router.Add({http::Method::kGet, "/v1/populi/events", AnyRole(), 0, "events.list",
              [&ctx](http::Request& req) {
                auto after = QueryIntParam(req, "after", 0);
                if (!after.ok()) return Error(after.status(), req);
                auto limit = QueryIntParam(req, "limit", 100);
                if (!limit.ok()) return Error(limit.status(), req);
                const int n = static_cast<int>(std::clamp<int64_t>(*limit, 1, 1000));
                auto events = ctx.store.ListEvents(*after, n);
                if (!events.ok()) return Error(events.status(), req);
                mesh::EventPage page;
                page.next_after = *after;
                for (auto& e : *events) page.next_after = std::max(page.next_after, e.id);
                page.events = std::move(*events);
                return Json(mesh::ToJson(page));
              }});
}

}  // namespace populi::control
