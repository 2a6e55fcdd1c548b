// Route groups. Each Add*Routes registers its group's routes (pattern, roles, body limit, name,
// handler) on the router; ControlPlane calls them all. docs/api.md and
// contracts/control-plane.openapi.yaml describe the same set (a test keeps them in step).
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "control/api/context.h"
#include "control/http/http.h"
#include "mesh/audit.h"
#include "models/report.h"

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
void AddAuditRoutes(http::Router& router, ApiContext& ctx);       // the audit log (admin)
void AddPairingRoutes(http::Router& router, ApiContext& ctx);     // pairing relay (secrets)
void AddModelRoutes(http::Router& router, ApiContext& ctx);       // model inventory: report, list
void AddInferenceRoutes(http::Router& router, ApiContext& ctx);   // OpenAI front door and relay

// Every node's stored inventory (or only `node_id`'s) with the node's record as liveness judges
// it now; nodes that left are not listed.
Result<std::vector<models::NodeInventory>> LoadNodeInventories(ApiContext& ctx,
                                                               const std::string& node_id);

// Deletes what the store keeps of a node's model inventory (the node left).
Status ForgetNodeInventory(store::WriteTxn& txn, const std::string& node_id);

// POST/DELETE /mcp: the MCP server over Streamable HTTP. Registered last: its tools run the
// routes registered before it in-process.
void AddMcpRoutes(http::Router& router, ApiContext& ctx);

// An audit record (docs/audit.md) of an action `req` asked for: the actor is its token label.
// Never put a token or a secret in `data`.
mesh::AuditRecord AuditOf(const http::Request& req, int64_t now_ms, std::string kind,
                          std::string subject, const boost::json::object& data = {});

}  // namespace populi::control
