// The inventory's reporting protocol (docs/models.md, "Reporting"), both sides, as pure
// functions over the wire types of mesh/inventory.h: the report an agent sends against what the
// control plane acknowledged, the control plane's application of a report to what it holds,
// and the mesh-wide listing with each node's copy fresh, stale or gone.
//
// Generations: the control plane numbers what it holds of a node. Every report that changes
// something gets a new generation, strictly greater than the one before and at least the
// control plane's clock in ms (so a store restored from a backup never hands out a number an
// agent already holds for other content). An agent sends a diff against the generation it was
// last told; a diff against any other generation is refused (kFailedPrecondition) and the agent
// sends its whole inventory instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mesh/inference.h"
#include "mesh/inventory.h"
#include "mesh/types.h"
#include "util/status.h"

namespace populi::models {

// ---- the agent's side ----

// What the control plane holds of this node, as far as its agent knows.
struct AckedInventory {
  int64_t generation = 0;          // 0: nothing (the next report is the whole inventory)
  mesh::ModelInventory inventory;  // what it holds at that generation
};

// `inv` within what one report may carry: at most kMaxInventoryEntries entries (the first by
// id) and kMaxInventoryProblems problems, the last of them saying how much was left out.
void CapInventory(mesh::ModelInventory& inv);

// The report that brings the control plane from `acked` to `current` (capped): the whole
// inventory when acked.generation is 0; else the entries added or changed since and the ids
// removed, with the whole list of problems; a refresh when neither entries nor problems changed.
mesh::InventoryReport MakeInventoryReport(const AckedInventory& acked,
                                          const mesh::ModelInventory& current, int64_t poll_ms);

// ---- the control plane's side ----

// Ok when a diff or refresh may apply to what the control plane holds (`held_generation`,
// nullopt when it holds nothing): kFailedPrecondition, asking for the whole inventory, when it
// names another generation. A whole report always applies.
Status CheckReportBase(std::optional<int64_t> held_generation, const mesh::InventoryReport& report);

struct AppliedReport {
  mesh::StoredInventory stored;           // what the control plane keeps now
  std::vector<mesh::ModelEntry> added;    // entries new to the node: model.added
  std::vector<mesh::ModelEntry> removed;  // entries gone from it: model.removed
  int64_t changed = 0;                    // entries present before and after, with a change
};

// Applies a report that passed mesh::ValidateInventoryReport to what the control plane holds
// of its node (`stored`, nullopt when nothing) at `now_ms`. kFailedPrecondition as
// CheckReportBase, and for a diff that removes an id the stored inventory lacks; kTooLarge when
// the result would hold more than kMaxInventoryEntries entries. A refresh keeps the generation
// and the content, and moves only poll_ms.
Result<AppliedReport> ApplyInventoryReport(const std::optional<mesh::StoredInventory>& stored,
                                           const mesh::InventoryReport& report, int64_t now_ms);

// ---- the mesh-wide listing ----

struct NodeInventory {
  mesh::NodeRecord node;  // state and last_seen_ms as the control plane judges them now
  mesh::StoredInventory stored;
  int64_t refreshed_ms = 0;  // the last accepted report, a refresh included
  int64_t poll_ms = 0;       // the node's poll interval as its last report said
  // What its engines last said of their load (heartbeats; docs/inference.md, "Engine truth").
  // Filled where routing reads the inventories, not by the model listing.
  std::optional<mesh::NodeEngineLoad> engine_load;
};

// GET /v1/populi/models filters; empty = all.
struct InventoryQuery {
  std::string model;  // an entry's id or name
  std::string node;
};

// The poll interval a node's inventory is judged by (at least mesh::kMinInventoryPollMs).
int64_t JudgedPollMs(const NodeInventory& n);
// Gone: the node left, or is not alive and silent for longer than kGoneAfterPolls of its poll
// intervals. A gone node is absent from the listing.
bool InventoryGone(const NodeInventory& n, int64_t now_ms);
// Fresh: the node is alive and its last report came within kStaleAfterPolls of its poll
// intervals; stale otherwise.
mesh::InventoryFreshness InventoryFreshnessOf(const NodeInventory& n, int64_t now_ms);

// Every model held by a node that is not gone, with the nodes that hold it (mesh/inventory.h).
mesh::MeshModelList MergeInventories(const std::vector<NodeInventory>& nodes,
                                     const InventoryQuery& query, int64_t now_ms);

}  // namespace populi::models
