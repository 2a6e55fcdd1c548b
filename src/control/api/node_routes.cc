// Registry: GET /v1/populi/nodes, POST /v1/populi/{join,heartbeat,leave}.
#include <algorithm>

#include <boost/json.hpp>

#include "control/api/engine_load.h"
#include "control/api/routes.h"
#include "dispatch/attempts.h"
#include "mesh/replies_json.h"
#include "mesh/validate.h"

namespace populi::control {
namespace json = boost::json;
namespace {

Status CheckScope(const ApiContext& ctx, const std::string& scope_id) {
  if (ctx.options.scope_id.empty() || scope_id == ctx.options.scope_id) return Status::Ok();
  return {
      Code::kPermissionDenied,
      "scope_id '" + scope_id + "' does not match this mesh's scope '" + ctx.options.scope_id + "'",
      "set mesh.scope_id on the node to the control plane's scope"};
}

// Whether the node's reported probe failures (probe and kind) differ from its stored record's.
bool ProbeFailuresChanged(const std::optional<mesh::NodeRecord>& before,
                          const mesh::NodeRecord& now) {
  if (!before || before->probe_failures.size() != now.probe_failures.size()) return true;
  for (size_t i = 0; i < now.probe_failures.size(); ++i) {
    if (before->probe_failures[i].probe != now.probe_failures[i].probe ||
        before->probe_failures[i].kind != now.probe_failures[i].kind) {
      return true;
    }
  }
  return false;
}

http::Response ListNodes(ApiContext& ctx, http::Request& req) {
  auto stale = QueryIntParam(req, "stale_after_ms", 0);
  if (!stale.ok()) return Error(stale.status(), req);
  auto nodes = ctx.store.ListNodes();
  if (!nodes.ok()) return Error(nodes.status(), req);
  const int64_t now = ctx.NowMs();
  mesh::NodeList list;
  list.server_time_ms = now;
  for (auto& stored : *nodes) {
    mesh::NodeRecord n = dispatch::WithLiveness(ctx.liveness, std::move(stored), now);
    if (*stale > 0 && now - n.last_seen_ms > *stale) continue;
    list.nodes.push_back(std::move(n));
  }
  return Json(mesh::ToJson(list));
}

// A node's encryption key and pairings change on the node (vox populi pair --rotate, pair,
// unpair) and reach the control plane in its record: each change is an audit entry (MESH-125).
Status AuditKeyChanges(store::WriteTxn& txn, const http::Request& req, int64_t now,
                       const std::optional<mesh::NodeRecord>& before,
                       const mesh::NodeRecord& after) {
  if (!after.x25519_pub_key_b64.empty() &&
      (!before || before->x25519_pub_key_b64 != after.x25519_pub_key_b64)) {
    const bool rotated = before && !before->x25519_pub_key_b64.empty();
    const json::object data{{"x25519_key_created_ms", after.x25519_key_created_ms}};
    POPULI_RETURN_IF_ERROR(
        txn.AppendAudit(AuditOf(req, now, rotated ? "node.key_rotated" : "node.key_published",
                                after.id, data))
            .status());
    if (rotated)
      POPULI_RETURN_IF_ERROR(
          txn.AppendEvent(MakeEvent(now, "node.key_rotated", after.id, data)).status());
  }
  const std::vector<std::string> none;
  const auto& old_peers = before ? before->paired_with : none;
  json::array added, removed;
  for (const auto& id : after.paired_with) {
    if (std::find(old_peers.begin(), old_peers.end(), id) == old_peers.end())
      added.emplace_back(id);
  }
  for (const auto& id : old_peers) {
    if (std::find(after.paired_with.begin(), after.paired_with.end(), id) ==
        after.paired_with.end())
      removed.emplace_back(id);
  }
  if (!added.empty()) {
    POPULI_RETURN_IF_ERROR(
        txn.AppendAudit(AuditOf(req, now, "pairing.paired", after.id, {{"peers", added}}))
            .status());
  }
  if (!removed.empty()) {
    POPULI_RETURN_IF_ERROR(
        txn.AppendAudit(AuditOf(req, now, "pairing.unpaired", after.id, {{"peers", removed}}))
            .status());
  }
  if (!added.empty() || !removed.empty()) {
    POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, "pairing.changed", after.id,
                                                     {{"paired", added}, {"unpaired", removed}}))
                               .status());
  }
  return Status::Ok();
}

http::Response Join(ApiContext& ctx, http::Request& req) {
  auto node = DecodeBody(req, mesh::NodeRecordFromJson);
  if (!node.ok()) return Error(node.status(), req);
  if (Status s = mesh::ValidateNodeRecord(*node, ctx.options.limits); !s.ok()) return Error(s, req);
  if (Status s = CheckScope(ctx, node->scope_id); !s.ok()) return Error(s, req);
  const int64_t now = ctx.NowMs();
  // Control-plane owned fields: a client's values are ignored; the store keeps the existing
  // row's admin fields and joined_ms.
  node->state = mesh::NodeState::kAlive;
  node->joined_ms = now;
  node->last_seen_ms = now;
  node->maintenance = false;
  node->maintenance_until_ms = 0;
  node->quarantined = false;
  node->schema_version = mesh::kRecordSchemaVersion;
  std::optional<mesh::NodeRecord> stored;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto before, txn.GetNode(node->id));
    POPULI_RETURN_IF_ERROR(txn.UpsertNode(*node));
    POPULI_RETURN_IF_ERROR(txn.SetNodeState(node->id, mesh::NodeState::kAlive));
    POPULI_RETURN_IF_ERROR(txn.TouchNode(node->id, now));
    if (!before || before->state != mesh::NodeState::kAlive) {
      POPULI_RETURN_IF_ERROR(
          txn.AppendEvent(MakeEvent(now, before ? "node.rejoined" : "node.joined", node->id,
                                    {{"version", node->version}, {"gpus", node->gpus.size()}}))
              .status());
    }
    // Probe failures the node reports (MESH-129) are an event when they appear or change, not
    // on every re-join that repeats them.
    if (!node->probe_failures.empty() && ProbeFailuresChanged(before, *node)) {
      json::array failures;
      for (const auto& f : node->probe_failures) {
        failures.push_back(
            json::object{{"probe", f.probe}, {"kind", f.kind}, {"message", f.message}});
      }
      POPULI_RETURN_IF_ERROR(
          txn.AppendEvent(MakeEvent(now, "node.probe_failed", node->id,
                                    {{"node_id", node->id}, {"failures", std::move(failures)}}))
              .status());
    }
    POPULI_RETURN_IF_ERROR(AuditKeyChanges(txn, req, now, before, *node));
    POPULI_ASSIGN_OR_RETURN(stored, txn.GetNode(node->id));
    return Status::Ok();
  });
  if (!s.ok()) return Error(s, req);
  ctx.liveness.Touch(node->id, now);
  ctx.Notify(dispatch::kEventsTopic);
  // Agents cap their retry delay below down_after_ms so a recovered control plane hears from every
  // live node before it would judge one down.
  return Json(mesh::ToJson(
      mesh::JoinReply{stored ? *stored : *node, ctx.options.heartbeat_ms, ctx.options.down_ms()}));
}

http::Response Heartbeat(ApiContext& ctx, http::Request& req) {
  auto hb = DecodeBody(req, mesh::HeartbeatRequestFromJson);
  if (!hb.ok()) return Error(hb.status(), req);
  if (Status s = mesh::ValidateId("node_id", hb->node_id); !s.ok()) return Error(s, req);
  if (Status s = CheckScope(ctx, hb->scope_id); !s.ok()) return Error(s, req);
  const int64_t now = ctx.NowMs();
  std::optional<mesh::NodeState> previous;
  if (auto live = ctx.liveness.Get(hb->node_id)) {
    previous = live->state;
  } else {
    auto node = ctx.store.GetNode(hb->node_id);
    if (!node.ok()) return Error(node.status(), req);
    if (!*node) {
      return Error(NotFound("node " + hb->node_id + " has not joined",
                            "POST /v1/populi/join with the node's record first"),
                   req);
    }
    previous = (*node)->state;
  }
  if (previous != mesh::NodeState::kAlive) {
    // A state change is persisted at once; plain heartbeats only touch memory.
    Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
      POPULI_RETURN_IF_ERROR(txn.SetNodeState(hb->node_id, mesh::NodeState::kAlive));
      POPULI_RETURN_IF_ERROR(txn.TouchNode(hb->node_id, now));
      return txn
          .AppendEvent(
              MakeEvent(now, "node.alive", hb->node_id, {{"from", mesh::ToString(*previous)}}))
          .status();
    });
    if (!s.ok()) return Error(s, req);
    ctx.Notify(dispatch::kEventsTopic);
  }
  ctx.liveness.Touch(hb->node_id, now);
  RecordEngineLoad(ctx, hb->node_id, hb->engine_load, now);
  return Json(mesh::ToJson(
      mesh::HeartbeatReply{hb->node_id, mesh::NodeState::kAlive, now, ctx.options.heartbeat_ms}));
}

http::Response Leave(ApiContext& ctx, http::Request& req) {
  auto leave = DecodeBody(req, mesh::LeaveRequestFromJson);
  if (!leave.ok()) return Error(leave.status(), req);
  if (Status s = mesh::ValidateId("node_id", leave->node_id); !s.ok()) return Error(s, req);
  const int64_t now = ctx.NowMs();
  // Its task attempts are lost now (re-placed at once) rather than when their leases lapse.
  auto live = ctx.store.ListLeases(/*live_only=*/true, now);
  if (!live.ok()) return Error(live.status(), req);
  int lost = 0;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(
        lost, dispatch::LoseAttemptsHeldBy(txn, *live, {leave->node_id}, "node_left", now));
    Status removed = txn.RemoveNode(leave->node_id);
    if (removed.code() == Code::kNotFound) {
      return NotFound("node " + leave->node_id + " is not registered",
                      "list nodes with GET /v1/populi/nodes");
    }
    POPULI_RETURN_IF_ERROR(removed);
    POPULI_RETURN_IF_ERROR(ForgetNodeInventory(txn, leave->node_id));
    POPULI_RETURN_IF_ERROR(ForgetEngineLoad(txn, leave->node_id));
    return txn.AppendEvent(MakeEvent(now, "node.left", leave->node_id)).status();
  });
  if (!s.ok()) return Error(s, req);
  ctx.liveness.Forget(leave->node_id);
  // Wake the node's own parked task-inbox poll so its worker can stop without waiting it out.
  ctx.Notify(dispatch::NodeInboxTopic(mesh::TaskInboxFor(leave->node_id)));
  if (lost > 0) (void)ctx.dispatch.PlacePending();
  ctx.Notify(dispatch::kEventsTopic);
  return http::NoContent();
}

}  // namespace

void AddNodeRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kGet, "/v1/populi/nodes", AnyRole(), 0, "nodes.list",
              [&ctx](http::Request& req) { return ListNodes(ctx, req); }});
  // Liveness routes are never rate limited (http::Route::liveness).
  http::Route join{http::Method::kPost, "/v1/populi/join",
                   NodePlaneRoles(),    256 * 1024,
                   "nodes.join",        [&ctx](http::Request& req) { return Join(ctx, req); }};
  http::Route heartbeat{
      http::Method::kPost, "/v1/populi/heartbeat",
      NodePlaneRoles(),    16 * 1024,  // with engine loads: kMaxEngineLoads of them
      "nodes.heartbeat",   [&ctx](http::Request& req) { return Heartbeat(ctx, req); }};
  http::Route leave{http::Method::kPost, "/v1/populi/leave",
                    NodePlaneRoles(),    4 * 1024,
                    "nodes.leave",       [&ctx](http::Request& req) { return Leave(ctx, req); }};
  for (http::Route* r : {&join, &heartbeat, &leave}) {
    r->liveness = true;
    router.Add(std::move(*r));
  }
}

}  // namespace populi::control
