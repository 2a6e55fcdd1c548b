// The inventory builder over every source: ids sorted and unique, content hashes computed once
// per (path, size, mtime) and kept across restarts in the cache file, problems reported beside
// the entries, the walk's limits, and the diff between two inventories (MESH-173).
#include <gtest/gtest.h>

#include <filesystem>

#include "mesh/models_json.h"
#include "models/inventory.h"
#include "models/model_fixtures.h"

namespace populi::models {
namespace {

using testing::TempDir;
using testing::WriteBytes;

// The tiny GGUF with its tensor data filled with `fill`: same header and size, other content.
std::string TinyGguf(char fill = '\x11') {
  std::string bytes = testing::TinyLlamaGguf().Build();
  bytes.back() = fill;
  return bytes;
}

InventoryOptions DirOptions(const std::string& dir, const std::string& cache = "") {
  InventoryOptions o;
  o.node_id = "box-a";
  o.model_dirs = {dir};
  o.cache_path = cache;
  return o;
}

TEST(Inventory, BuildsASortedStampedInventoryWithEstimates) {
  TempDir root;
  WriteBytes(root.Sub("models/tiny.gguf"), TinyGguf());
  WriteBytes(root.Sub("models/notes.txt"), "not a model");
  WriteBytes(root.Sub("models/st/model.safetensors"), testing::Safetensors({{"w", "F16", {4}}}));
  ManualClock clock(1'700'000'000'000);
  InventoryOptions options = DirOptions(root.Sub("models"));
  options.estimate_context_length = 128;
  InventoryBuilder builder(options, clock);
  const mesh::ModelInventory inv = builder.Build();
  EXPECT_EQ(inv.schema_version, mesh::kModelInventorySchemaVersion);
  EXPECT_EQ(inv.node_id, "box-a");
  EXPECT_EQ(inv.generated_ms, 1'700'000'000'000);
  EXPECT_TRUE(inv.problems.empty());
  ASSERT_EQ(inv.entries.size(), 2u);
  EXPECT_LT(inv.entries[0].id, inv.entries[1].id);
  EXPECT_TRUE(mesh::ValidateModelInventory(inv).ok());

  const mesh::ModelEntry* gguf = nullptr;
  for (const auto& e : inv.entries)
    if (e.format == "gguf") gguf = &e;
  ASSERT_NE(gguf, nullptr);
  EXPECT_EQ(gguf->name, "Tiny Llama");
  EXPECT_EQ(gguf->size_bytes, TinyGguf().size());
  ASSERT_TRUE(gguf->memory.has_value());
  // 2 blocks × 128 tokens × 2 KV heads × (16 + 16) per-head widths × 2 bytes.
  EXPECT_EQ(gguf->memory->context_length, 128u);
  EXPECT_EQ(gguf->memory->kv_cache_bytes, std::optional<uint64_t>(2 * 128 * 2 * 32 * 2));
  EXPECT_EQ(gguf->memory->total_bytes, TinyGguf().size() + 2 * 128 * 2 * 32 * 2);

  // The inventory survives its own wire codec.
  auto back = mesh::ModelInventoryFromJson(boost::json::value(mesh::ToJson(inv)));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, inv);
}

TEST(Inventory, AHashIsComputedOncePerPathSizeAndMtimeAndKeptAcrossRestarts) {
  TempDir root;
  const std::string file = root.Sub("models/tiny.gguf");
  const std::string cache = root.Sub("data/models/file-cache.json");
  WriteBytes(file, TinyGguf('\x11'));
  testing::SetMtime(file, 1'700'000'000);
  InventoryBuilder first(DirOptions(root.Sub("models"), cache));
  const std::string id = first.Build().entries.at(0).id;
  ASSERT_TRUE(std::filesystem::exists(cache));

  // Same size, same mtime, other bytes: the cached hash stands (the file is not re-read).
  WriteBytes(file, TinyGguf('\x22'));
  testing::SetMtime(file, 1'700'000'000);
  EXPECT_EQ(first.Build().entries.at(0).id, id);
  InventoryBuilder restarted(DirOptions(root.Sub("models"), cache));
  EXPECT_EQ(restarted.Build().entries.at(0).id, id);
  InventoryBuilder no_cache(DirOptions(root.Sub("models")));
  const std::string real_id = no_cache.Build().entries.at(0).id;
  EXPECT_NE(real_id, id);

  // A new mtime invalidates the record: the file is hashed again.
  testing::SetMtime(file, 1'700'000'100);
  EXPECT_EQ(restarted.Build().entries.at(0).id, real_id);
}

TEST(Inventory, TheCacheFileHoldsOnlyFilesThatStillExistAndACorruptOneIsRebuilt) {
  TempDir root;
  const std::string cache = root.Sub("file-cache.json");
  WriteBytes(root.Sub("models/a.gguf"), TinyGguf('\x01'));
  WriteBytes(root.Sub("models/b.gguf"), TinyGguf('\x02'));
  InventoryBuilder builder(DirOptions(root.Sub("models"), cache));
  EXPECT_EQ(builder.Build().entries.size(), 2u);
  EXPECT_NE(testing::ReadText(cache).find("b.gguf"), std::string::npos);
  std::filesystem::remove(root.Sub("models/b.gguf"));
  EXPECT_EQ(builder.Build().entries.size(), 1u);
  EXPECT_EQ(testing::ReadText(cache).find("b.gguf"), std::string::npos);

  WriteBytes(cache, "{not json");
  InventoryBuilder restarted(DirOptions(root.Sub("models"), cache));
  const mesh::ModelInventory inv = restarted.Build();
  EXPECT_EQ(inv.entries.size(), 1u);
  ASSERT_EQ(inv.problems.size(), 1u);
  EXPECT_EQ(inv.problems[0].source, "cache");
  EXPECT_NE(testing::ReadText(cache).find("a.gguf"), std::string::npos);  // rewritten
  EXPECT_TRUE(restarted.Build().problems.empty());
}

TEST(Inventory, TheSameContentInTwoPlacesIsOneEntryAtTheFirstPath) {
  TempDir root;
  WriteBytes(root.Sub("a/copy.gguf"), TinyGguf());
  WriteBytes(root.Sub("b/orig.gguf"), TinyGguf());
  InventoryOptions o = DirOptions(root.Sub("b"));
  o.model_dirs.push_back(root.Sub("a"));
  InventoryBuilder builder(o);
  const mesh::ModelInventory inv = builder.Build();
  ASSERT_EQ(inv.entries.size(), 1u);
  EXPECT_EQ(inv.entries[0].path, root.Sub("a/copy.gguf"));
}

TEST(Inventory, UnreadableThingsAreProblemsBesideTheEntries) {
  TempDir root;
  WriteBytes(root.Sub("models/good.gguf"), TinyGguf());
  std::string broken = TinyGguf();
  broken.resize(40);
  WriteBytes(root.Sub("models/broken.gguf"), broken);
  InventoryOptions o = DirOptions(root.Sub("models"), root.Sub("cache.json"));
  o.model_dirs.push_back(root.Sub("missing"));
  InventoryBuilder builder(o);
  for (int round = 0; round < 2; ++round) {  // the second from the cached parse error
    const mesh::ModelInventory inv = builder.Build();
    ASSERT_EQ(inv.entries.size(), 1u) << round;
    ASSERT_EQ(inv.problems.size(), 2u) << round;
    EXPECT_EQ(inv.problems[0].source, "gguf");
    EXPECT_EQ(inv.problems[0].path, root.Sub("models/broken.gguf"));
    EXPECT_NE(inv.problems[0].message.find("does not fit the file"), std::string::npos)
        << inv.problems[0].message;
    EXPECT_EQ(inv.problems[1].source, "model_dir");
    EXPECT_EQ(inv.problems[1].path, root.Sub("missing"));
  }
}

TEST(Inventory, TheWalkSkipsHiddenDirectoriesStopsAtItsDepthAndSurvivesLinkLoops) {
  TempDir root;
  WriteBytes(root.Sub("m/.git/lfs/hidden.gguf"), TinyGguf('\x01'));
  WriteBytes(root.Sub("m/a/b/deep.gguf"), TinyGguf('\x02'));
  WriteBytes(root.Sub("m/a/shallow.GGUF"), TinyGguf('\x03'));
  testing::Symlink("..", root.Sub("m/a/loop"));
  testing::Symlink(root.Sub("elsewhere"), root.Sub("m/linked"));
  WriteBytes(root.Sub("elsewhere/linked.gguf"), TinyGguf('\x04'));
  InventoryOptions o = DirOptions(root.Sub("m"));
  o.max_depth = 1;
  InventoryBuilder shallow(o);
  std::set<std::string> paths;
  for (const auto& e : shallow.Build().entries) paths.insert(e.path);
  EXPECT_EQ(paths, (std::set<std::string>{root.Sub("m/a/shallow.GGUF"),
                                          root.Sub("m/linked/linked.gguf")}));
  o.max_depth = 8;
  InventoryBuilder deep(o);
  const mesh::ModelInventory inv = deep.Build();
  EXPECT_EQ(inv.entries.size(), 3u);  // deep, shallow, linked: each once despite the loop
  EXPECT_TRUE(inv.problems.empty());
}

TEST(Inventory, DiffNamesAddedRemovedAndChangedIds) {
  TempDir root;
  WriteBytes(root.Sub("m/a.gguf"), TinyGguf('\x01'));
  WriteBytes(root.Sub("m/b.gguf"), TinyGguf('\x02'));
  InventoryBuilder builder(DirOptions(root.Sub("m")));
  const mesh::ModelInventory before = builder.Build();
  EXPECT_TRUE(DiffInventories(before, builder.Build()).empty());

  std::filesystem::remove(root.Sub("m/a.gguf"));
  WriteBytes(root.Sub("m/c.gguf"), TinyGguf('\x03'));
  const mesh::ModelInventory after = builder.Build();
  const InventoryDiff diff = DiffInventories(before, after);
  ASSERT_EQ(diff.added.size(), 1u);
  ASSERT_EQ(diff.removed.size(), 1u);
  EXPECT_TRUE(diff.changed.empty());
  EXPECT_EQ(diff.removed[0], before.entries[before.entries[0].path.ends_with("a.gguf") ? 0 : 1].id);
  EXPECT_EQ(diff.added[0], after.entries[after.entries[0].path.ends_with("c.gguf") ? 0 : 1].id);

  mesh::ModelInventory loaded = after;
  loaded.entries[1].loaded = true;
  const InventoryDiff changed = DiffInventories(after, loaded);
  EXPECT_EQ(changed.changed, std::vector<std::string>{after.entries[1].id});
  EXPECT_TRUE(changed.added.empty());
  EXPECT_TRUE(changed.removed.empty());
  EXPECT_EQ(DiffInventories(mesh::ModelInventory{}, after).added.size(), 2u);
  EXPECT_EQ(DiffInventories(after, mesh::ModelInventory{}).removed.size(), 2u);
}

}  // namespace
}  // namespace populi::models
