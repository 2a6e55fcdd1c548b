#include "models/report.h"

#include <algorithm>
#include <map>
#include <utility>

#include "mesh/inventory_json.h"
#include "mesh/models_json.h"
#include "models/inventory.h"

namespace populi::models {

namespace {

// The entry of `inv` (sorted by id) with `id`, or null.
const mesh::ModelEntry* FindEntry(const mesh::ModelInventory& inv, const std::string& id) {
  auto it =
      std::lower_bound(inv.entries.begin(), inv.entries.end(), id,
                       [](const mesh::ModelEntry& e, const std::string& k) { return e.id < k; });
  return it != inv.entries.end() && it->id == id ? &*it : nullptr;
}

Status LostTrack(const std::string& why) {
  return FailedPrecondition("inventory report: " + why,
                            "send the whole inventory (base_generation 0); an agent does so by "
                            "itself after this answer");
}

}  // namespace

// ---- the agent's side ----

void CapInventory(mesh::ModelInventory& inv) {
  const bool entries_over = inv.entries.size() > mesh::kMaxInventoryEntries;
  if (!entries_over && inv.problems.size() <= mesh::kMaxInventoryProblems) return;
  size_t entries_left_out = 0;
  if (entries_over) {
    entries_left_out = inv.entries.size() - mesh::kMaxInventoryEntries;
    inv.entries.resize(mesh::kMaxInventoryEntries);
  }
  // One place is kept for the note saying what was left out.
  size_t problems_left_out = 0;
  if (inv.problems.size() > mesh::kMaxInventoryProblems - 1) {
    problems_left_out = inv.problems.size() - (mesh::kMaxInventoryProblems - 1);
    inv.problems.resize(mesh::kMaxInventoryProblems - 1);
  }
  inv.problems.push_back({"inventory", "",
                          std::to_string(entries_left_out) + " entries and " +
                              std::to_string(problems_left_out) +
                              " problems not reported (a report holds at most " +
                              std::to_string(mesh::kMaxInventoryEntries) + " entries and " +
                              std::to_string(mesh::kMaxInventoryProblems) + " problems)"});
}

mesh::InventoryReport MakeInventoryReport(const AckedInventory& acked,
                                          const mesh::ModelInventory& current, int64_t poll_ms) {
  mesh::InventoryReport r;
  r.node_id = current.node_id;
  r.poll_ms = poll_ms;
  r.generated_ms = current.generated_ms;
  if (acked.generation == 0) {
    r.entries = current.entries;
    r.problems = current.problems;
    return r;
  }
  r.base_generation = acked.generation;
  const InventoryDiff diff = DiffInventories(acked.inventory, current);
  if (diff.empty() && acked.inventory.problems == current.problems) {
    r.refresh = true;
    return r;
  }
  std::vector<std::string> upserts = diff.added;
  upserts.insert(upserts.end(), diff.changed.begin(), diff.changed.end());
  std::sort(upserts.begin(), upserts.end());
  for (const auto& id : upserts) {
    if (const mesh::ModelEntry* e = FindEntry(current, id)) r.entries.push_back(*e);
  }
  r.removed = diff.removed;
  r.problems = current.problems;
  return r;
}

// ---- the control plane's side ----

Status CheckReportBase(std::optional<int64_t> held_generation,
                       const mesh::InventoryReport& report) {
  if (report.whole()) return Status::Ok();
  if (!held_generation) {
    return LostTrack("the control plane holds no inventory of node " + report.node_id +
                     " to apply a diff against generation " +
                     std::to_string(report.base_generation) + " to");
  }
  if (*held_generation != report.base_generation) {
    return LostTrack("base_generation " + std::to_string(report.base_generation) +
                     " is not the generation the control plane holds of node " + report.node_id +
                     " (" + std::to_string(*held_generation) + ")");
  }
  return Status::Ok();
}

Result<AppliedReport> ApplyInventoryReport(const std::optional<mesh::StoredInventory>& stored,
                                           const mesh::InventoryReport& report, int64_t now_ms) {
  std::optional<int64_t> held;
  if (stored) held = stored->generation;
  POPULI_RETURN_IF_ERROR(CheckReportBase(held, report));
  AppliedReport out;
  if (report.refresh) {
    out.stored = *stored;
    out.stored.poll_ms = report.poll_ms;
    return out;
  }
  const mesh::ModelInventory empty;
  const mesh::ModelInventory& before = stored ? stored->inventory : empty;
  mesh::ModelInventory after;
  after.node_id = report.node_id;
  after.generated_ms = report.generated_ms;
  after.problems = report.problems;
  if (report.whole()) {
    after.entries = report.entries;
  } else {
    std::map<std::string, mesh::ModelEntry> merged;
    for (const auto& e : before.entries) merged.emplace(e.id, e);
    for (const auto& id : report.removed) {
      if (merged.erase(id) == 0)
        return LostTrack("removed id \"" + id +
                         "\" is not in the inventory the control plane holds");
    }
    for (const auto& e : report.entries) merged[e.id] = e;
    after.entries.reserve(merged.size());
    for (auto& [id, e] : merged) after.entries.push_back(std::move(e));
  }
  std::sort(after.entries.begin(), after.entries.end(),
            [](const mesh::ModelEntry& a, const mesh::ModelEntry& b) { return a.id < b.id; });
  POPULI_RETURN_IF_ERROR(mesh::ValidateModelInventory(after));
  const InventoryDiff diff = DiffInventories(before, after);
  for (const auto& id : diff.added) out.added.push_back(*FindEntry(after, id));
  for (const auto& id : diff.removed) out.removed.push_back(*FindEntry(before, id));
  out.changed = static_cast<int64_t>(diff.changed.size());
  out.stored.generation = std::max(held.value_or(0) + 1, now_ms);
  out.stored.poll_ms = report.poll_ms;
  out.stored.updated_ms = now_ms;
  out.stored.inventory = std::move(after);
  return out;
}

// ---- the mesh-wide listing ----

int64_t JudgedPollMs(const NodeInventory& n) {
  const int64_t poll = n.poll_ms > 0 ? n.poll_ms : n.stored.poll_ms;
  return std::max(poll, mesh::kMinInventoryPollMs);
}

bool InventoryGone(const NodeInventory& n, int64_t now_ms) {
  if (n.node.state == mesh::NodeState::kLeft) return true;
  if (n.node.state == mesh::NodeState::kAlive) return false;
  return now_ms - n.node.last_seen_ms > mesh::kGoneAfterPolls * JudgedPollMs(n);
}

mesh::InventoryFreshness InventoryFreshnessOf(const NodeInventory& n, int64_t now_ms) {
  const bool recent = now_ms - n.refreshed_ms <= mesh::kStaleAfterPolls * JudgedPollMs(n);
  return n.node.state == mesh::NodeState::kAlive && recent ? mesh::InventoryFreshness::kFresh
                                                           : mesh::InventoryFreshness::kStale;
}

mesh::MeshModelList MergeInventories(const std::vector<NodeInventory>& nodes,
                                     const InventoryQuery& query, int64_t now_ms) {
  std::vector<const NodeInventory*> order;
  for (const auto& n : nodes) {
    if (!query.node.empty() && n.node.id != query.node) continue;
    if (InventoryGone(n, now_ms)) continue;
    order.push_back(&n);
  }
  std::sort(order.begin(), order.end(),
            [](const NodeInventory* a, const NodeInventory* b) { return a->node.id < b->node.id; });
  mesh::MeshModelList list;
  list.server_time_ms = now_ms;
  std::map<std::string, mesh::MeshModel> models;
  for (const NodeInventory* n : order) {
    const mesh::InventoryFreshness state = InventoryFreshnessOf(*n, now_ms);
    const mesh::ModelInventory& inv = n->stored.inventory;
    list.nodes.push_back({n->node.id, state, n->node.state, n->stored.generation, JudgedPollMs(*n),
                          n->refreshed_ms, n->stored.updated_ms,
                          static_cast<int64_t>(inv.entries.size()), inv.problems});
    for (const auto& e : inv.entries) {
      if (!query.model.empty() && e.id != query.model && e.name != query.model) continue;
      auto [it, first] = models.try_emplace(e.id);
      if (first) {
        it->second.model = e;
        it->second.model.path.clear();
        it->second.model.endpoint.clear();
        it->second.model.loaded.reset();
        it->second.model.refs.clear();
      }
      it->second.nodes.push_back({n->node.id, state, n->node.state, e.source, e.path, e.endpoint,
                                  e.loaded, e.refs, n->refreshed_ms});
    }
  }
  list.models.reserve(models.size());
  for (auto& [id, m] : models) list.models.push_back(std::move(m));
  return list;
}

}  // namespace populi::models
