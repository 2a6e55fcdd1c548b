// Route groups. Each Add*Routes registers its group's routes (pattern, roles, body limit, name,
// handler) on the router; ControlPlane calls them all. docs/api.md and
// contracts/control-plane.openapi.yaml describe the same set (a test keeps them in step).
#pragma once

#include "control/api/context.h"
#include "control/http/http.h"

namespace populi::control {

void AddSystemRoutes(http::Router& router, ApiContext& ctx);      // health, version
void AddEventRoutes(http::Router& router, ApiContext& ctx);       // events (page, stream), metrics
void AddNodeRoutes(http::Router& router, ApiContext& ctx);        // nodes, join, heartbeat, leave
void AddA2ARoutes(http::Router& router, ApiContext& ctx);         // deliver, inbox, ack, renew
void AddLeaseRoutes(http::Router& router, ApiContext& ctx);       // exec lease grant … list
void AddAdminRoutes(http::Router& router, ApiContext& ctx);       // maintenance, quarantine, revoke
void AddBootstrapRoutes(http::Router& router, ApiContext& ctx);   // one-time token exchange
void AddTaskRoutes(http::Router& router, ApiContext& ctx);        // submit, list, wait, logs …
void AddTaskReportRoutes(http::Router& router, ApiContext& ctx);  // agent: start, logs, result
void AddTraceRoutes(http::Router& router, ApiContext& ctx);       // agents' spans, one trace

}  // namespace populi::control
