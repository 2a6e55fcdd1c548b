// The Hugging Face hub cache scanner on hub trees the test lays out the way huggingface_hub
// does: blobs named by hash, snapshots of links into them, refs naming commits (MESH-077).
#include <gtest/gtest.h>

#include <map>

#include "models/inventory.h"
#include "models/model_fixtures.h"
#include "models/scan/sources.h"

namespace populi::models::scan {
namespace {

using testing::Safetensors;
using testing::Symlink;
using testing::TempDir;
using testing::WriteBytes;

const std::string kRevA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string kRevB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

// A hub repository laid out like huggingface_hub's cache.
class HubRepo {
 public:
  HubRepo(const std::string& hub, const std::string& dir_name) : root_(hub + "/" + dir_name) {}

  // A blob named `hash` holding `bytes`; returns its path.
  std::string Blob(const std::string& hash, const std::string& bytes) {
    WriteBytes(root_ + "/blobs/" + hash, bytes);
    return root_ + "/blobs/" + hash;
  }
  // snapshots/<rev>/<file> as a relative link to blobs/<hash>, as the hub library makes it.
  void Link(const std::string& rev, const std::string& file, const std::string& hash) {
    const std::string link = root_ + "/snapshots/" + rev + "/" + file;
    std::string up = "../..";
    for (char c : file)
      if (c == '/') up += "/..";
    Symlink(up + "/blobs/" + hash, link);
  }
  void Ref(const std::string& name, const std::string& rev) {
    WriteBytes(root_ + "/refs/" + name, rev);
  }
  std::string Snapshot(const std::string& rev) const { return root_ + "/snapshots/" + rev; }

 private:
  std::string root_;
};

std::map<std::string, mesh::ModelEntry> ById(const ScanContext& ctx) {
  std::map<std::string, mesh::ModelEntry> out;
  for (const auto& e : ctx.entries) out[e.id] = e;
  return out;
}

TEST(HfCache, SnapshotsAreEntriesWithRevisionRefsAndEachBlobCountedOnce) {
  TempDir hub;
  HubRepo repo(hub.path(), "models--TinyOrg--tiny-llama");
  const std::string weights = Safetensors({{"w", "BF16", {64, 8}}, {"n", "F32", {8}}});
  const std::string config = testing::LlamaConfigJson(2, 64, 4, 2, 2048);
  repo.Blob("1111", weights);
  repo.Blob("2222", config);
  repo.Blob("3333", "{}");  // tokenizer.json, and again as a copy under another name
  repo.Link(kRevA, "model.safetensors", "1111");
  repo.Link(kRevA, "config.json", "2222");
  repo.Link(kRevA, "tokenizer.json", "3333");
  repo.Link(kRevA, "extra/tokenizer_copy.json", "3333");
  repo.Link(kRevB, "config.json", "2222");  // an older snapshot: config only
  repo.Ref("main", kRevA + "\n");
  repo.Ref("pr/1", kRevA);
  repo.Ref("old", kRevB);
  WriteBytes(hub.Sub("datasets--x--y/snapshots/" + kRevA + "/data.csv"), "a,b\n");

  FileCache cache;
  ScanContext ctx(cache);
  ScanHfCache(hub.path(), ctx);
  EXPECT_TRUE(ctx.problems.empty()) << ctx.problems.front().message;
  auto entries = ById(ctx);
  ASSERT_EQ(entries.size(), 2u);  // datasets are not models

  const mesh::ModelEntry& a = entries.at("TinyOrg/tiny-llama@" + kRevA);
  EXPECT_EQ(a.source, mesh::ModelSource::kHfCache);
  EXPECT_EQ(a.name, "TinyOrg/tiny-llama");
  EXPECT_EQ(a.revision, kRevA);
  EXPECT_EQ(a.refs, (std::vector<std::string>{"main", "pr/1"}));
  EXPECT_EQ(a.path, repo.Snapshot(kRevA));
  EXPECT_EQ(a.size_bytes, weights.size() + config.size() + 2);  // blob 3333 once
  EXPECT_EQ(a.format, "safetensors");
  EXPECT_EQ(a.parameter_count, std::optional<uint64_t>(64 * 8 + 8));
  EXPECT_EQ(a.quantization, "BF16,F32");
  EXPECT_EQ(a.architecture, "llama");
  EXPECT_EQ(a.context_length, std::optional<uint64_t>(2048));
  EXPECT_EQ(a.block_count, std::optional<uint32_t>(2));
  EXPECT_EQ(a.memory->weights_bytes, weights.size());

  const mesh::ModelEntry& b = entries.at("TinyOrg/tiny-llama@" + kRevB);
  EXPECT_EQ(b.refs, std::vector<std::string>{"old"});
  EXPECT_EQ(b.size_bytes, config.size());
  EXPECT_EQ(b.format, "unknown");
}

TEST(HfCache, ShardedSnapshotsAndSingleGgufSnapshotsAreDescribed) {
  TempDir hub;
  HubRepo sharded(hub.path(), "models--org--big");
  sharded.Blob("s1", Safetensors({{"a", "F16", {100}}}));
  sharded.Blob("s2", Safetensors({{"b", "F16", {50}}}));
  sharded.Blob("ix", R"({"weight_map":{"a":"model-1.safetensors","b":"model-2.safetensors"}})");
  sharded.Link(kRevA, "model-1.safetensors", "s1");
  sharded.Link(kRevA, "model-2.safetensors", "s2");
  sharded.Link(kRevA, "model.safetensors.index.json", "ix");
  HubRepo gguf(hub.path(), "models--gpt2");  // a repository without an organisation
  gguf.Blob("g1", testing::TinyLlamaGguf().Build());
  gguf.Link(kRevB, "tiny.Q4_K_M.gguf", "g1");
  gguf.Ref("main", kRevB);

  FileCache cache;
  ScanContext ctx(cache);
  ScanHfCache(hub.path(), ctx);
  EXPECT_TRUE(ctx.problems.empty()) << ctx.problems.front().message;
  auto entries = ById(ctx);
  ASSERT_EQ(entries.size(), 2u);
  const mesh::ModelEntry& big = entries.at("org/big@" + kRevA);
  EXPECT_EQ(big.parameter_count, std::optional<uint64_t>(150));
  EXPECT_TRUE(big.refs.empty());
  const mesh::ModelEntry& g = entries.at("gpt2@" + kRevB);
  EXPECT_EQ(g.name, "gpt2");
  EXPECT_EQ(g.format, "gguf");
  EXPECT_EQ(g.source, mesh::ModelSource::kHfCache);
  EXPECT_EQ(g.quantization, "Q4_K_M");
  EXPECT_EQ(g.architecture, "llama");
  EXPECT_EQ(g.parameter_count, std::optional<uint64_t>(testing::kTinyLlamaParameters));
  EXPECT_EQ(g.revision, kRevB);
  EXPECT_EQ(g.refs, std::vector<std::string>{"main"});
}

TEST(HfCache, AnAdapterSnapshotNamesItsBaseModel) {
  TempDir hub;
  HubRepo repo(hub.path(), "models--me--my-lora");
  repo.Blob("c", R"({"base_model_name_or_path":"TinyOrg/tiny-llama","r":8,"lora_alpha":16,
                     "target_modules":["q_proj","v_proj"],"peft_type":"LORA"})");
  repo.Blob("w", Safetensors({{"base_model.q.lora_A.weight", "F32", {8, 64}}}));
  repo.Link(kRevA, "adapter_config.json", "c");
  repo.Link(kRevA, "adapter_model.safetensors", "w");
  FileCache cache;
  ScanContext ctx(cache);
  ScanHfCache(hub.path(), ctx);
  ASSERT_EQ(ctx.entries.size(), 1u);
  const mesh::ModelEntry& e = ctx.entries[0];
  EXPECT_EQ(e.source, mesh::ModelSource::kHfCache);
  ASSERT_TRUE(e.lora.has_value());
  EXPECT_EQ(e.lora->base_model, "TinyOrg/tiny-llama");
  EXPECT_EQ(e.lora->rank, std::optional<uint32_t>(8));
  EXPECT_EQ(e.lora->alpha, std::optional<double>(16));
  EXPECT_EQ(e.parameter_count, std::optional<uint64_t>(512));
}

TEST(HfCache, AMissingBlobIsAProblemAndAMissingHubIsNot) {
  TempDir hub;
  HubRepo repo(hub.path(), "models--org--partial");
  repo.Blob("c", testing::LlamaConfigJson());
  repo.Link(kRevA, "config.json", "c");
  repo.Link(kRevA, "model.safetensors", "not-downloaded");
  FileCache cache;
  ScanContext ctx(cache);
  ScanHfCache(hub.path(), ctx);
  ASSERT_EQ(ctx.entries.size(), 1u);
  ASSERT_EQ(ctx.problems.size(), 1u);
  EXPECT_EQ(ctx.problems[0].source, "hf_cache");
  EXPECT_EQ(ctx.problems[0].path, repo.Snapshot(kRevA) + "/model.safetensors");

  ScanContext none(cache);
  ScanHfCache(hub.Sub("no-such-hub"), none);
  EXPECT_TRUE(none.entries.empty());
  EXPECT_TRUE(none.problems.empty());
}

const char* FakeEnv(const char* name) {
  static const std::map<std::string, std::string> vars = {
      {"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}, {"HF_HOME", "/hf"}};
  auto it = vars.find(name);
  return it == vars.end() ? nullptr : it->second.c_str();
}
const char* FakeEnvHomeOnly(const char* name) {
  return std::string_view(name) == "HOME" ? "/home/u" : nullptr;
}
const char* FakeEnvHubCache(const char* name) {
  return std::string_view(name) == "HF_HUB_CACHE" ? "/fast/hub" : FakeEnv(name);
}
const char* FakeEnvXdg(const char* name) {
  return std::string_view(name) == "HF_HOME" ? nullptr : FakeEnv(name);
}
const char* FakeEnvEmpty(const char*) {
  return nullptr;
}

TEST(HfCache, HubCacheDirFollowsTheHubLibrarysVariables) {
  EXPECT_EQ(HubCacheDir(FakeEnvHubCache), "/fast/hub");
  EXPECT_EQ(HubCacheDir(FakeEnv), "/hf/hub");
  EXPECT_EQ(HubCacheDir(FakeEnvXdg), "/xdg/huggingface/hub");
  EXPECT_EQ(HubCacheDir(FakeEnvHomeOnly), "/home/u/.cache/huggingface/hub");
  EXPECT_EQ(HubCacheDir(FakeEnvEmpty), "");
}

}  // namespace
}  // namespace populi::models::scan
