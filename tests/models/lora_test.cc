// LoRA adapters (MESH-174): a PEFT adapter directory is one entry naming its base model, rank,
// alpha and target modules; its weights are not listed as a model of their own; a GGUF adapter
// is an adapter too.
#include <gtest/gtest.h>

#include "models/model_fixtures.h"
#include "models/scan/model_config.h"
#include "models/scan/sources.h"

namespace populi::models::scan {
namespace {

using testing::Safetensors;
using testing::TempDir;
using testing::WriteBytes;

constexpr const char* kAdapterConfig = R"({
  "base_model_name_or_path": "meta-llama/Llama-3.2-1B-Instruct",
  "peft_type": "LORA", "r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
  "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "task_type": "CAUSAL_LM"})";

TEST(Lora, AdapterConfigFields) {
  auto lora = ReadAdapterConfig(kAdapterConfig);
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  EXPECT_EQ(lora->base_model, "meta-llama/Llama-3.2-1B-Instruct");
  EXPECT_EQ(lora->rank, std::optional<uint32_t>(16));
  EXPECT_EQ(lora->alpha, std::optional<double>(32));
  EXPECT_EQ(lora->target_modules,
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj"}));

  auto pattern = ReadAdapterConfig(
      R"({"base_model_name_or_path":"b","r":4,"lora_alpha":8.5,"target_modules":"all-linear"})");
  ASSERT_TRUE(pattern.ok());
  EXPECT_EQ(pattern->target_modules, std::vector<std::string>{"all-linear"});
  EXPECT_EQ(pattern->alpha, std::optional<double>(8.5));

  auto wrong = ReadAdapterConfig(R"({"r":"sixteen"})");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message().rfind("r:", 0), 0u) << wrong.status().message();
  EXPECT_FALSE(ReadAdapterConfig("not json").ok());
}

TEST(Lora, AnAdapterDirectoryIsOneEntryAndItsWeightsAreNotAModel) {
  TempDir root;
  const std::string dir = root.Sub("adapters/support-bot");
  const std::string weights =
      Safetensors({{"base_model.model.q_proj.lora_A.weight", "F32", {16, 64}},
                   {"base_model.model.q_proj.lora_B.weight", "F32", {64, 16}}});
  WriteBytes(dir + "/adapter_config.json", kAdapterConfig);
  WriteBytes(dir + "/adapter_model.safetensors", weights);
  WriteBytes(dir + "/checkpoint-10/model.safetensors", Safetensors({{"x", "F16", {2}}}));
  FileCache cache;
  ScanContext ctx(cache);
  ScanModelDir(root.path(), 8, ctx);
  EXPECT_TRUE(ctx.problems.empty()) << ctx.problems.front().message;
  ASSERT_EQ(ctx.entries.size(), 1u);  // the checkpoint inside the adapter is not walked
  const mesh::ModelEntry& e = ctx.entries[0];
  EXPECT_EQ(e.source, mesh::ModelSource::kLora);
  EXPECT_EQ(e.name, "support-bot");
  EXPECT_EQ(e.path, dir);
  EXPECT_EQ(e.format, "safetensors");
  ASSERT_TRUE(e.lora.has_value());
  EXPECT_EQ(e.lora->base_model, "meta-llama/Llama-3.2-1B-Instruct");
  EXPECT_EQ(e.lora->rank, std::optional<uint32_t>(16));
  EXPECT_EQ(e.parameter_count, std::optional<uint64_t>(2 * 16 * 64));
  EXPECT_EQ(e.size_bytes, weights.size() + std::string(kAdapterConfig).size());
  EXPECT_EQ(e.memory->weights_bytes, weights.size());
  EXPECT_EQ(e.id.rfind("sha256:", 0), 0u);

  // Another rank with the same weights is another adapter: the config is part of its identity.
  const std::string first_id = e.id;
  std::string other = kAdapterConfig;
  other.replace(other.find("\"r\": 16"), 7, "\"r\": 32");
  WriteBytes(dir + "/adapter_config.json", other);
  ScanContext again(cache);
  ScanModelDir(root.path(), 8, again);
  ASSERT_EQ(again.entries.size(), 1u);
  EXPECT_NE(again.entries[0].id, first_id);
  EXPECT_EQ(again.entries[0].lora->rank, std::optional<uint32_t>(32));
}

TEST(Lora, AnAdapterWithoutWeightsOrWithABadConfigIsAProblem) {
  TempDir root;
  WriteBytes(root.Sub("empty/adapter_config.json"), kAdapterConfig);
  WriteBytes(root.Sub("bad/adapter_config.json"), R"({"target_modules": 7})");
  WriteBytes(root.Sub("bad/adapter_model.bin"), "weights");
  FileCache cache;
  ScanContext ctx(cache);
  ScanModelDir(root.path(), 8, ctx);
  EXPECT_TRUE(ctx.entries.empty());
  ASSERT_EQ(ctx.problems.size(), 2u);
  EXPECT_EQ(ctx.problems[0].source, "lora");
  EXPECT_EQ(ctx.problems[1].source, "lora");
}

TEST(Lora, APyTorchAdapterHasSizeAndIdButNoParameterCount) {
  TempDir root;
  WriteBytes(root.Sub("pt/adapter_config.json"), kAdapterConfig);
  WriteBytes(root.Sub("pt/adapter_model.bin"), std::string(1000, 'w'));
  FileCache cache;
  ScanContext ctx(cache);
  ScanModelDir(root.path(), 8, ctx);
  ASSERT_EQ(ctx.entries.size(), 1u);
  EXPECT_EQ(ctx.entries[0].format, "pytorch");
  EXPECT_FALSE(ctx.entries[0].parameter_count.has_value());
  EXPECT_EQ(ctx.entries[0].memory->weights_bytes, 1000u);
}

TEST(Lora, AGgufAdapterIsALoraEntry) {
  TempDir root;
  testing::GgufBuilder b;
  b.Str("general.architecture", "llama")
      .Str("general.type", "adapter")
      .Str("general.name", "My Adapter")
      .F32("adapter.lora.alpha", 16.0f)
      .Tensor("blk.0.attn_q.weight.lora_a", {64, 8});
  WriteBytes(root.Sub("my-adapter.gguf"), b.Build());
  FileCache cache;
  ScanContext ctx(cache);
  ScanModelDir(root.path(), 8, ctx);
  ASSERT_EQ(ctx.entries.size(), 1u);
  EXPECT_EQ(ctx.entries[0].source, mesh::ModelSource::kLora);
  EXPECT_EQ(ctx.entries[0].format, "gguf");
  ASSERT_TRUE(ctx.entries[0].lora.has_value());
  EXPECT_EQ(ctx.entries[0].lora->alpha, std::optional<double>(16));
}

}  // namespace
}  // namespace populi::models::scan
