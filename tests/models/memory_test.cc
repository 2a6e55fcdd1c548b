// The memory estimate: weights plus an f16 KV cache from the model's shape (docs/models.md).
#include <gtest/gtest.h>

#include "models/inventory.h"

namespace populi::models {
namespace {

// Llama-3.1-8B's shape: 32 blocks, 4096 wide, 32 heads, 8 KV heads, 131072 tokens.
mesh::ModelEntry Llama8B() {
  mesh::ModelEntry e;
  e.id = "m";
  e.size_bytes = 4'920'734'016;  // a Q4_K_M file
  e.context_length = 131072;
  e.block_count = 32;
  e.embedding_length = 4096;
  e.head_count = 32;
  e.head_count_kv = 8;
  return e;
}

TEST(MemoryEstimate, WeightsPlusAnF16KvCache) {
  const mesh::MemoryEstimate m = EstimateMemory(Llama8B(), 8192);
  // 32 blocks × 8192 tokens × 8 heads × (128 + 128) × 2 bytes = 1 GiB.
  EXPECT_EQ(m.context_length, 8192u);
  EXPECT_EQ(m.kv_cache_bytes, std::optional<uint64_t>(1ull << 30));
  EXPECT_EQ(m.weights_bytes, 4'920'734'016u);
  EXPECT_EQ(m.total_bytes, 4'920'734'016u + (1ull << 30));
}

TEST(MemoryEstimate, TheModelsOwnContextIsTheDefaultAndTheCap) {
  const mesh::MemoryEstimate own = EstimateMemory(Llama8B());
  EXPECT_EQ(own.context_length, 131072u);
  EXPECT_EQ(own.kv_cache_bytes, std::optional<uint64_t>(16ull << 30));
  EXPECT_EQ(EstimateMemory(Llama8B(), 1'000'000).context_length, 131072u);
}

TEST(MemoryEstimate, ExplicitHeadWidthsAndTheScannersWeightsAreUsed) {
  mesh::ModelEntry e = Llama8B();
  e.key_length = 192;
  e.value_length = 128;
  e.memory = mesh::MemoryEstimate{0, 1000, std::nullopt, 1000};  // weights files only
  const mesh::MemoryEstimate m = EstimateMemory(e, 1024);
  EXPECT_EQ(m.kv_cache_bytes, std::optional<uint64_t>(32ull * 1024 * 8 * (192 + 128) * 2));
  EXPECT_EQ(m.weights_bytes, 1000u);
}

TEST(MemoryEstimate, WithoutHeadCountKvAllHeadsAreKvHeads) {
  mesh::ModelEntry e = Llama8B();
  e.head_count_kv.reset();
  EXPECT_EQ(EstimateMemory(e, 1024).kv_cache_bytes,
            std::optional<uint64_t>(32ull * 1024 * 32 * 256 * 2));
}

TEST(MemoryEstimate, AnUnknownShapeOrContextGivesTheWeightsAlone) {
  mesh::ModelEntry no_blocks = Llama8B();
  no_blocks.block_count.reset();
  EXPECT_FALSE(EstimateMemory(no_blocks, 1024).kv_cache_bytes.has_value());
  EXPECT_EQ(EstimateMemory(no_blocks, 1024).total_bytes, no_blocks.size_bytes);

  mesh::ModelEntry no_width = Llama8B();
  no_width.embedding_length.reset();
  EXPECT_FALSE(EstimateMemory(no_width, 1024).kv_cache_bytes.has_value());

  mesh::ModelEntry no_context = Llama8B();
  no_context.context_length.reset();
  EXPECT_FALSE(EstimateMemory(no_context).kv_cache_bytes.has_value());
  EXPECT_EQ(EstimateMemory(no_context).context_length, 0u);
  EXPECT_TRUE(EstimateMemory(no_context, 512).kv_cache_bytes.has_value());

  mesh::ModelEntry zero_heads = Llama8B();
  zero_heads.head_count = 0;
  zero_heads.head_count_kv = 0;
  EXPECT_FALSE(EstimateMemory(zero_heads, 1024).kv_cache_bytes.has_value());
}

TEST(MemoryEstimate, SaturatesInsteadOfWrapping) {
  mesh::ModelEntry e = Llama8B();
  e.block_count = UINT32_MAX;
  e.key_length = UINT32_MAX;
  e.value_length = UINT32_MAX;
  e.head_count_kv = UINT32_MAX;
  e.context_length.reset();
  const mesh::MemoryEstimate m = EstimateMemory(e, UINT64_MAX);
  EXPECT_EQ(m.kv_cache_bytes, std::optional<uint64_t>(UINT64_MAX));
  EXPECT_EQ(m.total_bytes, UINT64_MAX);
}

}  // namespace
}  // namespace populi::models
