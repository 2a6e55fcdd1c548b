// The inventory's reporting protocol (models/report.h): the agent's reports against what the
// control plane acknowledged, the control plane's application of them (a generation it does
// not hold means a whole resync), and the mesh-wide listing with fresh, stale and gone.
#include <gtest/gtest.h>

#include <optional>

#include "mesh/inventory_json.h"
#include "mesh/models_json.h"
#include "models/report.h"

namespace populi::models {
namespace {

mesh::ModelEntry Model(const std::string& id, const std::string& name = "") {
  mesh::ModelEntry e;
  e.id = id;
  e.name = name.empty() ? id : name;
  e.source = mesh::ModelSource::kGguf;
  e.path = "/models/" + id + ".gguf";
  e.format = "gguf";
  e.size_bytes = 100;
  return e;
}

mesh::ModelInventory Inventory(std::vector<mesh::ModelEntry> entries) {
  mesh::ModelInventory inv;
  inv.node_id = "box-a";
  inv.entries = std::move(entries);
  std::sort(inv.entries.begin(), inv.entries.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return inv;
}

std::vector<std::string> Ids(const std::vector<mesh::ModelEntry>& entries) {
  std::vector<std::string> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

TEST(InventoryReport, FirstWholeThenDiffsThenRefreshes) {
  AckedInventory acked;
  const mesh::ModelInventory one = Inventory({Model("a"), Model("b")});
  mesh::InventoryReport r = MakeInventoryReport(acked, one, 60'000);
  EXPECT_TRUE(r.whole());
  EXPECT_FALSE(r.refresh);
  EXPECT_EQ(Ids(r.entries), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.poll_ms, 60'000);
  EXPECT_TRUE(mesh::ValidateInventoryReport(r).ok());

  acked = {17, one};
  r = MakeInventoryReport(acked, one, 60'000);
  EXPECT_EQ(r.base_generation, 17);
  EXPECT_TRUE(r.refresh);
  EXPECT_TRUE(r.entries.empty());
  EXPECT_TRUE(mesh::ValidateInventoryReport(r).ok());

  mesh::ModelEntry changed = Model("b");
  changed.refs = {"main"};
  const mesh::ModelInventory two = Inventory({changed, Model("c")});
  r = MakeInventoryReport(acked, two, 60'000);
  EXPECT_EQ(r.base_generation, 17);
  EXPECT_FALSE(r.refresh);
  EXPECT_EQ(Ids(r.entries), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(r.removed, (std::vector<std::string>{"a"}));

  // A new problem alone is a change: the report carries the whole list of problems.
  mesh::ModelInventory troubled = one;
  troubled.problems = {{"gguf", "/models/x.gguf", "truncated"}};
  r = MakeInventoryReport(acked, troubled, 60'000);
  EXPECT_FALSE(r.refresh);
  EXPECT_TRUE(r.entries.empty());
  EXPECT_EQ(r.problems, troubled.problems);
}

TEST(InventoryReport, TheControlPlaneAppliesDiffsOnlyToTheGenerationItHolds) {
  const int64_t now = 1'700'000'000'000;
  mesh::InventoryReport whole = MakeInventoryReport({}, Inventory({Model("a"), Model("b")}), 1000);
  auto first = ApplyInventoryReport(std::nullopt, whole, now);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(Ids(first->added), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(first->removed.empty());
  EXPECT_GE(first->stored.generation, now);
  const mesh::StoredInventory held = first->stored;

  // A diff against the held generation applies; its generation is newer even on an earlier clock.
  mesh::InventoryReport diff = MakeInventoryReport({held.generation, held.inventory},
                                                   Inventory({Model("b"), Model("c")}), 1000);
  auto second = ApplyInventoryReport(held, diff, now - 5'000);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(Ids(second->added), (std::vector<std::string>{"c"}));
  EXPECT_EQ(Ids(second->removed), (std::vector<std::string>{"a"}));
  EXPECT_GT(second->stored.generation, held.generation);
  EXPECT_EQ(Ids(second->stored.inventory.entries), (std::vector<std::string>{"b", "c"}));

  // The same diff again (its reply was lost): the base is no longer held.
  auto again = ApplyInventoryReport(second->stored, diff, now);
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("base_generation"), std::string::npos);
  // A control plane that holds nothing (a new store) cannot apply a diff either.
  EXPECT_EQ(ApplyInventoryReport(std::nullopt, diff, now).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(CheckReportBase(std::nullopt, diff).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(CheckReportBase(held.generation, diff).ok());
  EXPECT_TRUE(CheckReportBase(std::nullopt, whole).ok());

  // Removing what the control plane does not hold means it lost track.
  mesh::InventoryReport stray = diff;
  stray.entries.clear();
  stray.removed = {"zzz"};
  EXPECT_EQ(ApplyInventoryReport(held, stray, now).status().code(), Code::kFailedPrecondition);

  // A refresh changes nothing but the poll interval.
  mesh::InventoryReport refresh =
      MakeInventoryReport({held.generation, held.inventory}, held.inventory, 5'000);
  ASSERT_TRUE(refresh.refresh);
  auto refreshed = ApplyInventoryReport(held, refresh, now + 1);
  ASSERT_TRUE(refreshed.ok());
  EXPECT_EQ(refreshed->stored.generation, held.generation);
  EXPECT_EQ(refreshed->stored.inventory, held.inventory);
  EXPECT_EQ(refreshed->stored.poll_ms, 5'000);
  EXPECT_TRUE(refreshed->added.empty() && refreshed->removed.empty());

  // A whole report replacing what is held: the events are the difference, not everything.
  auto replaced =
      ApplyInventoryReport(held, MakeInventoryReport({}, Inventory({Model("b")}), 1000), now);
  ASSERT_TRUE(replaced.ok());
  EXPECT_TRUE(replaced->added.empty());
  EXPECT_EQ(Ids(replaced->removed), (std::vector<std::string>{"a"}));
}

// The agent's side and the control plane's side together: a control plane that loses its
// store answers the next diff with failed_precondition, and the agent's whole inventory follows.
TEST(InventoryReport, AGenerationMismatchEndsInAWholeResync) {
  AckedInventory acked;
  std::optional<mesh::StoredInventory> control;
  int64_t now = 1'000'000;
  int resyncs = 0;
  auto cycle = [&](const mesh::ModelInventory& scan) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const mesh::InventoryReport r = MakeInventoryReport(acked, scan, 1000);
      auto applied = ApplyInventoryReport(control, r, ++now);
      if (applied.ok()) {
        control = applied->stored;
        acked = {applied->stored.generation, scan};
        return;
      }
      ASSERT_EQ(applied.status().code(), Code::kFailedPrecondition);
      ASSERT_FALSE(r.whole());
      acked = {};
      ++resyncs;
    }
  };
  cycle(Inventory({Model("a")}));
  cycle(Inventory({Model("a"), Model("b")}));
  EXPECT_EQ(resyncs, 0);
  control.reset();  // the control plane's store was replaced
  cycle(Inventory({Model("b"), Model("c")}));
  EXPECT_EQ(resyncs, 1);
  ASSERT_TRUE(control.has_value());
  EXPECT_EQ(Ids(control->inventory.entries), (std::vector<std::string>{"b", "c"}));
  control->generation += 1;  // restored from elsewhere: another generation
  cycle(Inventory({Model("c")}));
  EXPECT_EQ(resyncs, 2);
  EXPECT_EQ(Ids(control->inventory.entries), (std::vector<std::string>{"c"}));
}

TEST(InventoryReport, CapKeepsAReportWithinItsLimitsAndSaysWhatItLeftOut) {
  mesh::ModelInventory inv;
  inv.node_id = "box-a";
  for (size_t i = 0; i < mesh::kMaxInventoryEntries + 3; ++i) {
    inv.entries.push_back(Model("m" + std::to_string(100000 + i)));
  }
  inv.problems.assign(mesh::kMaxInventoryProblems + 9, {"gguf", "/x", "bad"});
  CapInventory(inv);
  EXPECT_EQ(inv.entries.size(), mesh::kMaxInventoryEntries);
  ASSERT_EQ(inv.problems.size(), mesh::kMaxInventoryProblems);
  EXPECT_NE(inv.problems.back().message.find("3 entries and 10 problems not reported"),
            std::string::npos)
      << inv.problems.back().message;
  EXPECT_TRUE(mesh::ValidateInventoryReport(MakeInventoryReport({}, inv, 1000)).ok());

  mesh::ModelInventory small = Inventory({Model("a")});
  CapInventory(small);
  EXPECT_TRUE(small.problems.empty());
}

NodeInventory Held(const std::string& node, mesh::NodeState state, int64_t last_seen_ms,
                   int64_t refreshed_ms, std::vector<mesh::ModelEntry> entries) {
  NodeInventory n;
  n.node.id = node;
  n.node.state = state;
  n.node.last_seen_ms = last_seen_ms;
  n.stored.generation = 5;
  n.stored.poll_ms = 1'000;
  n.stored.updated_ms = refreshed_ms;
  n.stored.inventory = Inventory(std::move(entries));
  n.stored.inventory.node_id = node;
  n.refreshed_ms = refreshed_ms;
  n.poll_ms = 1'000;
  return n;
}

TEST(InventoryMerge, EachModelListsItsHoldersFreshOrStale) {
  const int64_t now = 100'000;
  mesh::ModelEntry engine = Model("qwen@http://127.0.0.1:8000", "qwen");
  engine.source = mesh::ModelSource::kEngine;
  engine.path.clear();
  engine.endpoint = "http://127.0.0.1:8000";
  engine.loaded = true;
  mesh::ModelEntry shared_b = Model("shared");
  shared_b.path = "/other/shared.gguf";
  const std::vector<NodeInventory> nodes = {
      Held("node-b", mesh::NodeState::kAlive, now, now - 500, {shared_b, engine}),
      Held("node-a", mesh::NodeState::kAlive, now, now - 1'000, {Model("shared"), Model("a")}),
      // Alive but silent about its models for more than three polls: stale.
      Held("node-c", mesh::NodeState::kAlive, now, now - 3'001, {Model("c")}),
  };
  const mesh::MeshModelList list = MergeInventories(nodes, {}, now);
  EXPECT_EQ(list.server_time_ms, now);
  ASSERT_EQ(list.models.size(), 4u);
  EXPECT_EQ(list.models[0].model.id, "a");
  EXPECT_EQ(list.models[2].model.id, "qwen@http://127.0.0.1:8000");
  const mesh::MeshModel& shared = list.models[3];
  ASSERT_EQ(shared.nodes.size(), 2u);
  EXPECT_EQ(shared.nodes[0].node_id, "node-a");
  EXPECT_EQ(shared.nodes[0].path, "/models/shared.gguf");
  EXPECT_EQ(shared.nodes[1].path, "/other/shared.gguf");
  EXPECT_TRUE(shared.model.path.empty());  // each holder's own
  EXPECT_EQ(shared.nodes[0].state, mesh::InventoryFreshness::kFresh);
  EXPECT_EQ(list.models[2].nodes[0].endpoint, "http://127.0.0.1:8000");
  EXPECT_EQ(list.models[2].nodes[0].loaded, true);
  EXPECT_EQ(list.models[1].nodes[0].state, mesh::InventoryFreshness::kStale);  // node-c's
  ASSERT_EQ(list.nodes.size(), 3u);
  EXPECT_EQ(list.nodes[0].node_id, "node-a");
  EXPECT_EQ(list.nodes[0].models, 2);
  EXPECT_EQ(list.nodes[2].state, mesh::InventoryFreshness::kStale);

  // Filters: a model by id or by name, a node.
  EXPECT_EQ(MergeInventories(nodes, {"qwen", ""}, now).models.size(), 1u);
  EXPECT_EQ(MergeInventories(nodes, {"shared", "node-b"}, now).models[0].nodes.size(), 1u);
  EXPECT_EQ(MergeInventories(nodes, {"", "node-a"}, now).nodes.size(), 1u);
  EXPECT_TRUE(MergeInventories(nodes, {"nothing", ""}, now).models.empty());
}

TEST(InventoryMerge, ANodeThatIsNotAliveIsStaleThenGoneAfterTwoPolls) {
  const int64_t now = 100'000;
  auto state_at = [&](mesh::NodeState state, int64_t silent_ms) -> std::string {
    NodeInventory n = Held("node-x", state, now - silent_ms, now - silent_ms, {Model("x")});
    const auto list = MergeInventories({n}, {}, now);
    if (list.models.empty()) return "gone";
    return std::string(mesh::ToString(list.models[0].nodes[0].state));
  };
  EXPECT_EQ(state_at(mesh::NodeState::kAlive, 0), "fresh");
  EXPECT_EQ(state_at(mesh::NodeState::kSuspect, 100), "stale");
  EXPECT_EQ(state_at(mesh::NodeState::kDown, 2'000), "stale");
  EXPECT_EQ(state_at(mesh::NodeState::kDown, 2'001), "gone");
  EXPECT_EQ(state_at(mesh::NodeState::kSuspect, 2'001), "gone");
  EXPECT_EQ(state_at(mesh::NodeState::kLeft, 0), "gone");
  // A live node is never gone, however long it has not reported.
  EXPECT_EQ(state_at(mesh::NodeState::kAlive, 3'000), "fresh");
  EXPECT_EQ(state_at(mesh::NodeState::kAlive, 3'001), "stale");
  EXPECT_EQ(state_at(mesh::NodeState::kAlive, 1'000'000), "stale");
  // The node's own poll interval is the unit, and never under a second.
  NodeInventory slow = Held("node-s", mesh::NodeState::kDown, now - 100'000, 0, {Model("s")});
  slow.poll_ms = 60'000;
  EXPECT_FALSE(InventoryGone(slow, now));
  EXPECT_TRUE(InventoryGone(slow, now + 20'001));
  slow.poll_ms = 10;
  slow.stored.poll_ms = 10;
  EXPECT_EQ(JudgedPollMs(slow), mesh::kMinInventoryPollMs);
}

}  // namespace
}  // namespace populi::models
