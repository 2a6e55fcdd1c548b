// inference/targets.h: candidates from inventories — loaded engine models, files on disk behind
// an engine within the memory admission check, and nodes that cannot serve.
#include "inference/targets.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace populi::inference {
namespace {

constexpr int64_t kNow = 1'000'000;
constexpr uint64_t kGiB = 1ull << 30;

mesh::ModelEntry EngineModel(const std::string& name, const std::string& endpoint,
                             std::optional<bool> loaded = true) {
  mesh::ModelEntry e;
  e.id = name + "@" + endpoint;
  e.name = name;
  e.source = mesh::ModelSource::kEngine;
  e.endpoint = endpoint;
  e.loaded = loaded;
  return e;
}

mesh::ModelEntry FileModel(const std::string& name, uint64_t weights) {
  mesh::ModelEntry e;
  e.id = "sha256:" + name;
  e.name = name;
  e.source = mesh::ModelSource::kGguf;
  e.size_bytes = weights;
  return e;
}

models::NodeInventory Node(const std::string& id, std::vector<mesh::ModelEntry> entries,
                           uint64_t gpu_free = 0, uint64_t ram = 0) {
  models::NodeInventory n;
  n.node.id = id;
  n.node.state = mesh::NodeState::kAlive;
  n.node.last_seen_ms = kNow;
  n.node.cpu.memory_available_bytes = ram;
  if (gpu_free > 0) {
    mesh::GpuDevice g;
    g.memory_free_bytes = gpu_free;
    n.node.gpus.push_back(g);
  }
  n.stored.inventory.node_id = id;
  n.stored.inventory.entries = std::move(entries);
  n.stored.updated_ms = kNow;
  n.refreshed_ms = kNow;
  n.poll_ms = 60'000;
  return n;
}

TEST(Targets, LoadedEnginesAndDiskModelsThatFit) {
  std::vector<models::NodeInventory> nodes{
      // Loaded in its engine.
      Node("a", {EngineModel("llama", "http://a:8080")}),
      // On disk, 2 GiB, with an engine and 8 GiB free on its GPU: admitted, not loaded.
      Node("b", {EngineModel("other", "http://b:8080"), FileModel("llama", 2 * kGiB)}, 8 * kGiB),
      // On disk but too big for its 1 GiB GPU.
      Node("c", {EngineModel("other", "http://c:8080"), FileModel("llama", 2 * kGiB)}, kGiB),
      // On disk, no engine at all.
      Node("d", {FileModel("llama", 1)}, 8 * kGiB),
      // A CPU node: RAM decides.
      Node("e", {EngineModel("x", "http://e:1"), FileModel("llama", 2 * kGiB)}, 0, 4 * kGiB),
  };
  auto t = TargetsFor(nodes, "llama", kNow);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].candidate.node_id, "a");
  EXPECT_TRUE(t[0].candidate.loaded);
  EXPECT_EQ(t[0].endpoint, "http://a:8080");
  EXPECT_EQ(t[1].candidate.node_id, "b");
  EXPECT_FALSE(t[1].candidate.loaded);
  EXPECT_EQ(t[1].endpoint, "http://b:8080");
  EXPECT_EQ(t[2].candidate.node_id, "e");
  // By id too.
  EXPECT_EQ(TargetsFor(nodes, "sha256:llama", kNow).size(), 2u);
  EXPECT_TRUE(TargetsFor(nodes, "nope", kNow).empty());
}

TEST(Targets, OneTargetPerNodeTheLoadedCopyFirst) {
  // The file sorts first by id, the engine's copy of the same name is the loaded one.
  std::vector<models::NodeInventory> nodes{
      Node("f", {FileModel("llama", 1), EngineModel("llama", "http://f:1")}, 8 * kGiB),
      Node("g", {EngineModel("llama", "http://g:1", false), EngineModel("llama", "http://g:2")}),
  };
  ModelIndex index(nodes);
  auto t = index.TargetsFor("llama", kNow);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].candidate.node_id, "f");
  EXPECT_TRUE(t[0].candidate.loaded);
  EXPECT_EQ(t[0].endpoint, "http://f:1");
  EXPECT_EQ(t[1].candidate.node_id, "g");
  EXPECT_EQ(t[1].endpoint, "http://g:2");  // the engine that has it in memory
  EXPECT_TRUE(index.TargetsFor("nope", kNow).empty());
}

TEST(Targets, NodesThatCannotServeAreLeftOut) {
  auto down = Node("down", {EngineModel("llama", "http://x")});
  down.node.state = mesh::NodeState::kDown;
  auto quarantined = Node("q", {EngineModel("llama", "http://x")});
  quarantined.node.quarantined = true;
  auto stale = Node("stale", {EngineModel("llama", "http://x")});
  stale.refreshed_ms = kNow - 10 * 60'000;
  auto unloaded = Node("u", {EngineModel("llama", "http://x", false)});
  auto t = TargetsFor({down, quarantined, stale, unloaded}, "llama", kNow);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].candidate.node_id, "u");
  EXPECT_FALSE(t[0].candidate.loaded);  // the engine lists it but said it is not in memory
}

TEST(Targets, ServedModelsCountNodesOnce) {
  std::vector<models::NodeInventory> nodes{
      Node("a", {EngineModel("llama", "http://a:1"), EngineModel("llama", "http://a:2")}),
      Node("b", {EngineModel("llama", "http://b:1"), FileModel("big", 100 * kGiB)}, kGiB),
      Node("c", {FileModel("orphan", 1)}, kGiB),
  };
  auto models = ServedModels(nodes, kNow);
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].id, "llama");
  EXPECT_EQ(models[0].nodes, 2);
  EXPECT_EQ(models[0].owned_by, "populi");
}

}  // namespace
}  // namespace populi::inference
