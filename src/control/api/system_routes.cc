// GET /health, GET /v1/populi/version, GET /v1/populi/events.
#include <boost/json.hpp>

#include "control/api/routes.h"

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
                json::object o{{"status", "ok"}, {"version", ctx.options.version}};
                return Json(o);
              },
              /*runs_inline=*/true});

  router.Add({http::Method::kGet, "/v1/populi/version", AnyRole(), 0, "version",
              [&ctx](http::Request&) {
                json::object o{{"version", ctx.options.version},
                               {"wire_version", ctx.options.wire_version},
                               {"api", "v1"}};
                if (!ctx.options.scope_id.empty()) o["scope_id"] = ctx.options.scope_id;
                return Json(o);
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
                json::array arr;
                int64_t next = *after;
                for (const auto& e : *events) {
                  arr.push_back(mesh::ToJson(e));
                  next = std::max(next, e.id);
                }
                return Json(json::object{{"events", std::move(arr)}, {"next_after", next}});
              }});
}

}  // namespace populi::control
