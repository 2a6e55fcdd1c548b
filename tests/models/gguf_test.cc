// The GGUF header parser on files built byte by byte: the fields the inventory keeps, values it
// must skip (string arrays, nested arrays), and refusals of what is not a readable GGUF.
#include <gtest/gtest.h>

#include "models/model_fixtures.h"
#include "models/scan/byte_reader.h"
#include "models/scan/gguf.h"

namespace populi::models::scan {
namespace {

using testing::GgufBuilder;
using testing::TinyLlamaGguf;

Result<GgufInfo> ParseBytes(const std::string& bytes) {
  ByteReader in = ByteReader::FromMemory(bytes);
  return ParseGguf(in);
}

TEST(Gguf, ReadsTheFieldsTheInventoryKeeps) {
  auto info = ParseBytes(TinyLlamaGguf().Build());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->version, 3u);
  EXPECT_EQ(info->architecture, "llama");
  EXPECT_EQ(info->name, "Tiny Llama");
  EXPECT_EQ(info->file_type, std::optional<uint32_t>(15));
  EXPECT_EQ(GgufFileTypeName(*info->file_type), "Q4_K_M");
  EXPECT_EQ(info->context_length, std::optional<uint64_t>(256));
  EXPECT_EQ(info->block_count, std::optional<uint64_t>(2));
  EXPECT_EQ(info->embedding_length, std::optional<uint64_t>(64));
  EXPECT_EQ(info->head_count, std::optional<uint64_t>(4));
  EXPECT_EQ(info->head_count_kv, std::optional<uint64_t>(2));
  EXPECT_FALSE(info->key_length.has_value());
  EXPECT_EQ(info->kv_count, 11u);
  EXPECT_EQ(info->tensor_count, 5u);
  EXPECT_EQ(info->parameter_count, testing::kTinyLlamaParameters);
}

TEST(Gguf, ReadsAFileThroughTheBufferedFileReader) {
  testing::TempDir dir;
  // A vocabulary larger than the reader's 64 KiB buffer, so values straddle refills.
  std::vector<std::string> tokens;
  for (int i = 0; i < 20000; ++i) tokens.push_back("token-" + std::to_string(i));
  GgufBuilder b = TinyLlamaGguf();
  b.StrArray("tokenizer.ggml.merges", tokens).U32("llama.attention.key_length", 48);
  testing::WriteBytes(dir.Sub("m.gguf"), b.Build());
  auto in = ByteReader::OpenFile(dir.Sub("m.gguf"));
  ASSERT_TRUE(in.ok());
  auto info = ParseGguf(*in);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->key_length, std::optional<uint64_t>(48));
  EXPECT_EQ(info->parameter_count, testing::kTinyLlamaParameters);
}

TEST(Gguf, ArchitectureKeysBeforeGeneralArchitectureAreResolvedLater) {
  GgufBuilder b;
  b.U32("qwen2.block_count", 24)
      .U32("llama.block_count", 99)  // another architecture's key: not this model's
      .U64("qwen2.context_length", 32768)
      .Str("general.architecture", "qwen2")
      .Tensor("t", {8, 8});
  auto info = ParseBytes(b.Build());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->block_count, std::optional<uint64_t>(24));
  EXPECT_EQ(info->context_length, std::optional<uint64_t>(32768));
  EXPECT_FALSE(info->file_type.has_value());
}

TEST(Gguf, PerLayerHeadCountArraysGiveTheirLargestAndNestedArraysAreSkipped) {
  GgufBuilder b;
  b.Str("general.architecture", "openelm")
      .U32Array("openelm.attention.head_count", {4, 8, 12})
      .U32Array("openelm.attention.head_count_kv", {2, 3, 1})
      .NestedArray("openelm.something", 3)
      .Bool("general.flag", true)
      .I32("openelm.block_count", -1)  // negative: not a count
      .Version(2);
  auto info = ParseBytes(b.Build());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->version, 2u);
  EXPECT_EQ(info->head_count, std::optional<uint64_t>(12));
  EXPECT_EQ(info->head_count_kv, std::optional<uint64_t>(3));
  EXPECT_FALSE(info->block_count.has_value());
  EXPECT_EQ(info->parameter_count, 0u);
}

TEST(Gguf, AnAdapterSaysSoWithItsAlpha) {
  GgufBuilder b;
  b.Str("general.architecture", "llama")
      .Str("general.type", "adapter")
      .Str("adapter.type", "lora")
      .F32("adapter.lora.alpha", 32.0f)
      .Tensor("blk.0.attn_q.weight.lora_a", {64, 8});
  auto info = ParseBytes(b.Build());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, "adapter");
  EXPECT_EQ(info->lora_alpha, std::optional<double>(32.0));
  EXPECT_EQ(info->parameter_count, 512u);
}

TEST(Gguf, FileTypeNames) {
  EXPECT_EQ(GgufFileTypeName(0), "F32");
  EXPECT_EQ(GgufFileTypeName(1), "F16");
  EXPECT_EQ(GgufFileTypeName(7), "Q8_0");
  EXPECT_EQ(GgufFileTypeName(18), "Q6_K");
  EXPECT_EQ(GgufFileTypeName(30), "IQ4_XS");
  EXPECT_EQ(GgufFileTypeName(32), "BF16");
  EXPECT_EQ(GgufFileTypeName(1024 + 15), "Q4_K_M");  // "guessed" flag
  EXPECT_EQ(GgufFileTypeName(5), "file_type_5");     // retired
  EXPECT_EQ(GgufFileTypeName(999), "file_type_999");
}

// Replaces the 8 bytes at `offset` with `value` (little-endian).
std::string Patch64(std::string bytes, size_t offset, uint64_t value) {
  std::memcpy(bytes.data() + offset, &value, 8);
  return bytes;
}

TEST(Gguf, RefusesWhatIsNotAReadableGguf) {
  const std::string good = TinyLlamaGguf().Build();
  struct Case {
    std::string bytes;
    const char* says;
  };
  std::string bad_magic = good;
  bad_magic[0] = 'g';
  std::string v1 = good;
  v1[4] = 1;
  std::string big_endian = good;
  std::memcpy(big_endian.data() + 4, "\0\0\0\3", 4);
  // The first key's length (offset 24) claims 2^40 bytes; then claims 70,000 (over 65,535).
  const Case cases[] = {
      {bad_magic, "bad magic"},
      {v1, "version 1"},
      {big_endian, "big-endian"},
      {Patch64(good, 8, uint64_t{1} << 40), "tensor count"},
      {Patch64(good, 16, uint64_t{1} << 50), "metadata count"},
      {Patch64(good, 24, uint64_t{1} << 40), "over the limit"},
      {Patch64(good, 24, 70000), "over the limit"},
      {GgufBuilder().Tensor("t", {2, 2, 2, 2, 2}).Build(), "dimensions"},
      {GgufBuilder().Tensor("a", {uint64_t{1} << 40, uint64_t{1} << 40}).Build(), "overflows"},
      {"", "truncated"},
  };
  for (const Case& c : cases) {
    auto info = ParseBytes(c.bytes);
    ASSERT_FALSE(info.ok()) << c.says;
    EXPECT_EQ(info.status().code(), Code::kInvalidArgument);
    EXPECT_NE(info.status().message().find(c.says), std::string::npos) << info.status().message();
    EXPECT_NE(info.status().message().find("GGUF offset"), std::string::npos);
  }
}

TEST(Gguf, AnUnknownValueTypeIsRefused) {
  GgufBuilder b;
  b.U32("general.file_type", 2);
  std::string bytes = b.Build();
  // The value type follows the 8-byte length and the 17-byte key, after the 24-byte header.
  const size_t type_at = 24 + 8 + std::string("general.file_type").size();
  bytes[type_at] = 13;
  auto info = ParseBytes(bytes);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("unknown value type 13"), std::string::npos);
}

}  // namespace
}  // namespace populi::models::scan
