// The mesh-wide model inventory (docs/models.md, "Reporting"): PUT /v1/populi/models/{node_id}
// (an agent's report: its whole inventory, a diff against the generation it holds, or a
// refresh) and GET /v1/populi/models (every node's models, fresh or stale; gone nodes left out).
//
// Each node's inventory is two rows of the store's kv table, so every replica on the store sees
// it: "models" / node id holds the inventory and its generation (rewritten only when it
// changes), "models.refresh" / node id the generation and the time of the last accepted report
// (rewritten by every report, a refresh included).
#include <algorithm>
#include <map>
#include <utility>

#include <boost/json.hpp>

#include "control/api/routes.h"
#include "dispatch/attempts.h"
#include "mesh/inventory_json.h"
#include "mesh/models_json.h"
#include "mesh/validate.h"
#include "models/report.h"

namespace populi::control {
namespace {

constexpr char kInventoryNs[] = "models";
constexpr char kRefreshNs[] = "models.refresh";

// A stored row decoded by `decode`; a row this control plane cannot read counts as none (the
// node's next report is then its whole inventory, which replaces it).
template <typename T>
std::optional<T> DecodeRow(const std::optional<std::string>& text,
                           Result<T> (*decode)(const boost::json::value&)) {
  if (!text) return std::nullopt;
  auto v = mesh::ParseJson(*text);
  if (!v.ok()) return std::nullopt;
  auto decoded = decode(*v);
  if (!decoded.ok()) return std::nullopt;
  return std::move(*decoded);
}

Status ModelEvents(store::WriteTxn& txn, int64_t now, const std::string& node_id,
                   const models::AppliedReport& applied) {
  // Removals first: a file rewritten in place reads as its old id gone, then its new one.
  for (const auto& e : applied.removed) {
    POPULI_RETURN_IF_ERROR(
        txn.AppendEvent(MakeEvent(now, "model.removed", e.id, mesh::ModelEventData(node_id, e)))
            .status());
  }
  for (const auto& e : applied.added) {
    POPULI_RETURN_IF_ERROR(
        txn.AppendEvent(MakeEvent(now, "model.added", e.id, mesh::ModelEventData(node_id, e)))
            .status());
  }
  return Status::Ok();
}

// The generation the store holds of `node_id` inside `txn` (nullopt when none).
Result<std::optional<int64_t>> HeldGeneration(store::WriteTxn& txn, const std::string& node_id) {
  POPULI_ASSIGN_OR_RETURN(auto text, txn.GetKv(kRefreshNs, node_id));
  auto held = DecodeRow(text, mesh::InventoryRefreshFromJson);
  if (!held) return std::optional<int64_t>();
  return std::optional<int64_t>(held->generation);
}

// Writes what `applied` holds (or, for a refresh, only the refresh row), with its events, after
// checking that nothing else changed the node's inventory since `held` was read.
Status CommitReport(ApiContext& ctx, const mesh::InventoryReport& report,
                    std::optional<int64_t> held, const models::AppliedReport& applied,
                    int64_t now) {
  const std::string refresh = mesh::Serialize(
      mesh::ToJson(mesh::InventoryRefresh{applied.stored.generation, report.poll_ms, now}));
  const std::string stored =
      report.refresh ? std::string() : mesh::Serialize(mesh::ToJson(applied.stored));
  return ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto current, HeldGeneration(txn, report.node_id));
    if (current != held) {
      return FailedPrecondition(
          "inventory report: node " + report.node_id + " reported twice at once",
          "send the whole inventory (base_generation 0)");
    }
    if (!report.refresh) {
      POPULI_RETURN_IF_ERROR(txn.PutKv(kInventoryNs, report.node_id, stored));
      POPULI_RETURN_IF_ERROR(ModelEvents(txn, now, report.node_id, applied));
    }
    return txn.PutKv(kRefreshNs, report.node_id, refresh);
  });
}

http::Response Report(ApiContext& ctx, http::Request& req) {
  auto report = DecodeBody(req, mesh::InventoryReportFromJson);
  if (!report.ok()) return Error(report.status(), req);
  const std::string& node_id = req.params.at("node_id");
  if (report->node_id != node_id) {
    return Error(InvalidArgument("node_id: \"" + report->node_id +
                                     "\" is not the node of the path (\"" + node_id + "\")",
                                 "PUT each node's report to /v1/populi/models/{its node id}"),
                 req);
  }
  if (Status s = mesh::ValidateInventoryReport(*report); !s.ok()) return Error(s, req);
  auto node = ctx.store.GetNode(node_id);
  if (!node.ok()) return Error(node.status(), req);
  if (!*node) {
    return Error(NotFound("node " + node_id + " has not joined",
                          "POST /v1/populi/join first (the agent joins before it reports)"),
                 req);
  }
  auto refresh_row = ctx.store.GetKv(kRefreshNs, node_id);
  if (!refresh_row.ok()) return Error(refresh_row.status(), req);
  std::optional<int64_t> held;
  if (auto r = DecodeRow(*refresh_row, mesh::InventoryRefreshFromJson)) held = r->generation;
  const int64_t now = ctx.NowMs();
  models::AppliedReport applied;
  if (report->refresh) {
    if (Status s = models::CheckReportBase(held, *report); !s.ok()) return Error(s, req);
    applied.stored.generation = *held;
  } else {
    auto stored_row = ctx.store.GetKv(kInventoryNs, node_id);
    if (!stored_row.ok()) return Error(stored_row.status(), req);
    auto stored = DecodeRow(*stored_row, mesh::StoredInventoryFromJson);
    if (stored && (!held || stored->generation != *held)) stored.reset();
    auto result = models::ApplyInventoryReport(stored, *report, now);
    if (!result.ok()) return Error(result.status(), req);
    applied = std::move(*result);
    // Above what the refresh row names too, should the inventory row have been unreadable.
    applied.stored.generation = std::max(applied.stored.generation, held.value_or(0) + 1);
  }
  if (Status s = CommitReport(ctx, *report, held, applied, now); !s.ok()) return Error(s, req);
  if (!applied.added.empty() || !applied.removed.empty()) ctx.Notify(dispatch::kEventsTopic);
  mesh::InventoryReportReply reply{node_id,
                                   applied.stored.generation,
                                   now,
                                   static_cast<int64_t>(applied.added.size()),
                                   static_cast<int64_t>(applied.removed.size()),
                                   applied.changed};
  return Json(mesh::ToJson(reply));
}

// Every stored inventory (or only `node_id`'s) with its refresh row, by node id.
Result<std::vector<std::pair<std::string, std::string>>> InventoryRows(ApiContext& ctx,
                                                                       const char* ns,
                                                                       const std::string& node_id) {
  if (node_id.empty()) return ctx.store.ListKv(ns);
  POPULI_ASSIGN_OR_RETURN(auto row, ctx.store.GetKv(ns, node_id));
  std::vector<std::pair<std::string, std::string>> rows;
  if (row) rows.emplace_back(node_id, std::move(*row));
  return rows;
}

}  // namespace

Result<std::vector<models::NodeInventory>> LoadNodeInventories(ApiContext& ctx,
                                                               const std::string& node_id) {
  POPULI_ASSIGN_OR_RETURN(auto stored_rows, InventoryRows(ctx, kInventoryNs, node_id));
  POPULI_ASSIGN_OR_RETURN(auto refresh_rows, InventoryRows(ctx, kRefreshNs, node_id));
  POPULI_ASSIGN_OR_RETURN(auto nodes, ctx.store.ListNodes());
  const int64_t now = ctx.NowMs();
  std::map<std::string, mesh::NodeRecord> by_id;
  for (auto& n : nodes) {
    std::string id = n.id;
    by_id.emplace(std::move(id), dispatch::WithLiveness(ctx.liveness, std::move(n), now));
  }
  std::map<std::string, mesh::InventoryRefresh> refreshes;
  for (const auto& [id, text] : refresh_rows) {
    if (auto r = DecodeRow(std::optional<std::string>(text), mesh::InventoryRefreshFromJson))
      refreshes.emplace(id, *r);
  }
  std::vector<models::NodeInventory> inventories;
  for (const auto& [id, text] : stored_rows) {
    auto node = by_id.find(id);
    if (node == by_id.end()) continue;  // the node left: its inventory is gone
    auto stored = DecodeRow(std::optional<std::string>(text), mesh::StoredInventoryFromJson);
    if (!stored) continue;
    models::NodeInventory n;
    n.node = node->second;
    n.refreshed_ms = stored->updated_ms;
    n.poll_ms = stored->poll_ms;
    if (auto r = refreshes.find(id);
        r != refreshes.end() && r->second.generation == stored->generation) {
      n.refreshed_ms = r->second.refreshed_ms;
      n.poll_ms = r->second.poll_ms;
    }
    n.stored = std::move(*stored);
    inventories.push_back(std::move(n));
  }
  return inventories;
}

namespace {

http::Response List(ApiContext& ctx, http::Request& req) {
  models::InventoryQuery query;
  if (auto it = req.query.find("model"); it != req.query.end()) query.model = it->second;
  if (auto it = req.query.find("node"); it != req.query.end()) query.node = it->second;
  if (!query.node.empty()) {
    if (Status s = mesh::ValidateId("node", query.node); !s.ok()) return Error(s, req);
  }
  if (query.model.size() > mesh::kMaxModelIdBytes || !mesh::IsValidUtf8(query.model)) {
    return Error(InvalidArgument("model: expected at most " +
                                     std::to_string(mesh::kMaxModelIdBytes) + " bytes of UTF-8",
                                 "pass a model's id or name"),
                 req);
  }
  auto inventories = LoadNodeInventories(ctx, query.node);
  if (!inventories.ok()) return Error(inventories.status(), req);
  const int64_t now = ctx.NowMs();
  return Json(mesh::ToJson(models::MergeInventories(*inventories, query, now)));
}

}  // namespace

Status ForgetNodeInventory(store::WriteTxn& txn, const std::string& node_id) {
  POPULI_RETURN_IF_ERROR(txn.DeleteKv(kInventoryNs, node_id));
  return txn.DeleteKv(kRefreshNs, node_id);
}

void AddModelRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kGet, "/v1/populi/models", AnyRole(), 0, "models.list",
              [&ctx](http::Request& req) { return List(ctx, req); }});
  // A whole inventory of kMaxInventoryEntries entries is a few MiB.
  router.Add({http::Method::kPut, "/v1/populi/models/{node_id}", NodePlaneRoles(), 16 * 1024 * 1024,
              "models.report", [&ctx](http::Request& req) { return Report(ctx, req); }});
}

}  // namespace populi::control
