// GET /health, GET /v1/populi/version.
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
              /*runs_inline=*/true,
              /*liveness=*/false,
              /*traced=*/false});

  router.Add({http::Method::kGet, "/v1/populi/version", AnyRole(), 0, "version",
              [&ctx](http::Request&) {
                return Json(mesh::ToJson(mesh::VersionInfo{
                    ctx.options.version, ctx.options.wire_version, "v1", ctx.options.scope_id}));
              },
              /*runs_inline=*/true});
}

}  // namespace populi::control
