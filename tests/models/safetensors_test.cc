// safetensors: the header parser, the shard index, and the directory scanner (one model per
// index with each shard counted once, one per stray file, the directory's config.json).
#include <gtest/gtest.h>

#include <algorithm>

#include "models/model_fixtures.h"
#include "models/scan/byte_reader.h"
#include "models/scan/safetensors.h"
#include "models/scan/sources.h"

namespace populi::models::scan {
namespace {

using testing::Safetensors;
using testing::TempDir;
using testing::WriteBytes;

const mesh::ModelEntry* FindByPath(const ScanContext& ctx, const std::string& path) {
  for (const auto& e : ctx.entries)
    if (e.path == path) return &e;
  return nullptr;
}

TEST(Safetensors, HeaderGivesParametersTensorsAndDtypesByShare) {
  const std::string bytes =
      Safetensors({{"w", "BF16", {16, 8}}, {"norm", "F32", {8}}, {"scalar", "F32", {}}});
  ByteReader in = ByteReader::FromMemory(bytes);
  auto h = ParseSafetensors(in);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->tensor_count, 3u);
  EXPECT_EQ(h->parameter_count, 16u * 8 + 8 + 1);  // a scalar (shape []) is one element
  EXPECT_EQ(h->dtypes, (std::vector<std::string>{"BF16", "F32"}));
}

TEST(Safetensors, OffsetsThatDisagreeWithTheShapeAreRefused) {
  std::string bytes = Safetensors({{"w", "F16", {4}}});
  const std::string wrong = R"("data_offsets":[0,8])";
  const size_t at = bytes.find(wrong);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, wrong.size(), R"("data_offsets":[0,6])");
  ByteReader in = ByteReader::FromMemory(bytes);
  auto h = ParseSafetensors(in);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("w: its shape does not match"), std::string::npos)
      << h.status().message();
}

TEST(Safetensors, IndexNamesEachShardOnceAndRefusesPathsOutsideItsDirectory) {
  TempDir dir;
  WriteBytes(dir.Sub("model.safetensors.index.json"),
             R"({"metadata":{"total_size":64},"weight_map":{"a":"model-00002-of-00002.safetensors",
                 "b":"model-00001-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}})");
  auto shards = ReadSafetensorsIndex(dir.Sub("model.safetensors.index.json"));
  ASSERT_TRUE(shards.ok()) << shards.status().ToString();
  EXPECT_EQ(*shards, (std::vector<std::string>{"model-00001-of-00002.safetensors",
                                               "model-00002-of-00002.safetensors"}));
  WriteBytes(dir.Sub("bad.safetensors.index.json"), R"({"weight_map":{"a":"../../etc/passwd"}})");
  auto bad = ReadSafetensorsIndex(dir.Sub("bad.safetensors.index.json"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("weight_map.a"), std::string::npos);
  WriteBytes(dir.Sub("none.safetensors.index.json"), R"({"metadata":{}})");
  EXPECT_FALSE(ReadSafetensorsIndex(dir.Sub("none.safetensors.index.json")).ok());
}

TEST(Safetensors, ScannerCountsShardsOnceAndReadsTheDirectoryConfig) {
  TempDir root;
  const std::string sharded = root.Sub("llama-sharded");
  WriteBytes(sharded + "/model-00001-of-00002.safetensors",
             Safetensors({{"embed", "BF16", {32, 16}}, {"norm", "F32", {16}}}));
  WriteBytes(sharded + "/model-00002-of-00002.safetensors",
             Safetensors({{"head", "BF16", {16, 32}}}));
  WriteBytes(sharded + "/model.safetensors.index.json",
             R"({"weight_map":{"embed":"model-00001-of-00002.safetensors",
                 "norm":"model-00001-of-00002.safetensors","head":"model-00002-of-00002.safetensors"}})");
  WriteBytes(sharded + "/config.json", testing::LlamaConfigJson(2, 16, 4, 2, 1024));
  const std::string single = root.Sub("small");
  WriteBytes(single + "/model.safetensors", Safetensors({{"w", "F16", {10}}}));
  WriteBytes(root.Sub("loose/classifier.safetensors"), Safetensors({{"w", "F32", {3}}}));

  FileCache cache;
  ScanContext ctx(cache);
  ScanModelDir(root.path(), 8, ctx);
  EXPECT_TRUE(ctx.problems.empty()) << ctx.problems.front().message;
  ASSERT_EQ(ctx.entries.size(), 3u);

  const mesh::ModelEntry* s = FindByPath(ctx, sharded);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->source, mesh::ModelSource::kSafetensors);
  EXPECT_EQ(s->name, "llama-sharded");
  EXPECT_EQ(s->format, "safetensors");
  EXPECT_EQ(s->parameter_count, std::optional<uint64_t>(32 * 16 + 16 + 16 * 32));
  EXPECT_EQ(s->tensor_count, std::optional<uint64_t>(3));
  EXPECT_EQ(s->quantization, "BF16,F32");
  const uint64_t shard_bytes =
      Safetensors({{"embed", "BF16", {32, 16}}, {"norm", "F32", {16}}}).size() +
      Safetensors({{"head", "BF16", {16, 32}}}).size();
  EXPECT_EQ(s->size_bytes, shard_bytes);
  EXPECT_EQ(s->memory->weights_bytes, shard_bytes);
  EXPECT_EQ(s->architecture, "llama");
  EXPECT_EQ(s->block_count, std::optional<uint32_t>(2));
  EXPECT_EQ(s->context_length, std::optional<uint64_t>(1024));
  EXPECT_EQ(s->head_count_kv, std::optional<uint32_t>(2));
  EXPECT_EQ(s->id.rfind("sha256:", 0), 0u);
  EXPECT_EQ(s->id.size(), 7u + 64);

  const mesh::ModelEntry* m = FindByPath(ctx, single);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->name, "small");
  EXPECT_EQ(m->parameter_count, std::optional<uint64_t>(10));
  const mesh::ModelEntry* loose = FindByPath(ctx, root.Sub("loose/classifier.safetensors"));
  ASSERT_NE(loose, nullptr);
  EXPECT_EQ(loose->name, "classifier");
  EXPECT_EQ(loose->quantization, "F32");
}

TEST(Safetensors, AModelWithAMissingShardIsAProblemNotAnEntry) {
  TempDir root;
  WriteBytes(root.Sub("m/model-00001-of-00002.safetensors"), Safetensors({{"a", "F16", {2}}}));
  WriteBytes(root.Sub("m/model.safetensors.index.json"),
             R"({"weight_map":{"a":"model-00001-of-00002.safetensors",
                 "b":"model-00002-of-00002.safetensors"}})");
  FileCache cache;
  ScanContext ctx(cache);
  ScanModelDir(root.path(), 8, ctx);
  EXPECT_TRUE(ctx.entries.empty());
  ASSERT_EQ(ctx.problems.size(), 1u);
  EXPECT_EQ(ctx.problems[0].source, "safetensors");
  EXPECT_EQ(ctx.problems[0].path, root.Sub("m/model-00002-of-00002.safetensors"));
}

TEST(Safetensors, TheSameShardsInTwoPlacesHaveOneIdAndRenamedShardsAnother) {
  TempDir root;
  for (const char* d : {"a", "b"}) {
    WriteBytes(root.Sub(std::string(d) + "/x-1.safetensors"), Safetensors({{"p", "F16", {4}}}));
    WriteBytes(root.Sub(std::string(d) + "/x-2.safetensors"), Safetensors({{"q", "F16", {4}}}));
    WriteBytes(root.Sub(std::string(d) + "/model.safetensors.index.json"),
               R"({"weight_map":{"p":"x-1.safetensors","q":"x-2.safetensors"}})");
  }
  FileCache cache;
  ScanContext ctx(cache);
  ScanModelDir(root.path(), 8, ctx);
  ASSERT_EQ(ctx.entries.size(), 2u);
  EXPECT_EQ(ctx.entries[0].id, ctx.entries[1].id);
  const std::string shared_id = ctx.entries[0].id;

  // The same bytes under other shard names are another model's layout: another id.
  std::filesystem::rename(root.Sub("b/x-2.safetensors"), root.Sub("b/y-2.safetensors"));
  WriteBytes(root.Sub("b/model.safetensors.index.json"),
             R"({"weight_map":{"p":"x-1.safetensors","q":"y-2.safetensors"}})");
  ScanContext again(cache);
  ScanModelDir(root.path(), 8, again);
  ASSERT_EQ(again.entries.size(), 2u);
  EXPECT_NE(again.entries[0].id, again.entries[1].id);
}

}  // namespace
}  // namespace populi::models::scan
