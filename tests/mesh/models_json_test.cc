// The model inventory on the wire: every field survives a round trip through JSON text, absent
// optionals stay absent, and the strict reader names the field it refuses.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mesh/models.h"
#include "mesh/models_json.h"
#include "mesh/parse_json.h"

namespace populi::mesh {
namespace {

namespace json = boost::json;
using testing::Parse;

ModelEntry FullGgufEntry() {
  ModelEntry e;
  e.id = "sha256:" + std::string(64, 'a');
  e.name = "Tiny Llama";
  e.source = ModelSource::kGguf;
  e.path = "/models/tiny.Q4_K_M.gguf";
  e.format = "gguf";
  e.quantization = "Q4_K_M";
  e.size_bytes = 668'788'096;
  e.parameter_count = 1'100'048'384;
  e.tensor_count = 201;
  e.context_length = 2048;
  e.architecture = "llama";
  e.block_count = 22;
  e.embedding_length = 2048;
  e.head_count = 32;
  e.head_count_kv = 4;
  e.key_length = 64;
  e.value_length = 64;
  e.memory = MemoryEstimate{2048, 668'788'096, 46'137'344, 714'925'440};
  return e;
}

ModelEntry LoraEntry() {
  ModelEntry e;
  e.id = "org/adapter@0123456789abcdef0123456789abcdef01234567";
  e.name = "org/adapter";
  e.source = ModelSource::kHfCache;
  e.path = "/hf/hub/models--org--adapter/snapshots/0123456789abcdef0123456789abcdef01234567";
  e.format = "safetensors";
  e.revision = "0123456789abcdef0123456789abcdef01234567";
  e.refs = {"main"};
  e.size_bytes = 0;  // written even at 0
  e.lora = LoraInfo{"meta-llama/Llama-3.2-1B", 16, 32.5, {"q_proj", "v_proj"}};
  e.loaded = false;
  return e;
}

ModelInventory SampleInventory() {
  ModelInventory inv;
  inv.node_id = "box-a";
  inv.generated_ms = 1'700'000'000'123;
  inv.entries = {FullGgufEntry(), LoraEntry()};
  inv.problems = {{"gguf", "/models/broken.gguf", "truncated at byte 17"}};
  return inv;
}

TEST(ModelsJson, InventoryRoundTripsThroughTextWithEveryField) {
  const ModelInventory inv = SampleInventory();
  const std::string text = json::serialize(ToJson(inv));
  auto back = ModelInventoryFromJson(Parse(text));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, inv);
  EXPECT_EQ(back->entries[1].lora->alpha, 32.5);
  EXPECT_EQ(back->entries[1].loaded, std::optional<bool>(false));
  EXPECT_EQ(back->entries[0].memory->kv_cache_bytes, std::optional<uint64_t>(46'137'344));
}

TEST(ModelsJson, EveryModelSourceRoundTrips) {
  for (ModelSource s : {ModelSource::kHfCache, ModelSource::kGguf, ModelSource::kSafetensors,
                        ModelSource::kLora, ModelSource::kEngine}) {
    ModelEntry e;
    e.id = "m";
    e.source = s;
    auto back = ModelEntryFromJson(json::value(ToJson(e)));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->source, s) << ToString(s);
  }
  EXPECT_EQ(ToString(ModelSource::kHfCache), "hf_cache");
  EXPECT_FALSE(ParseModelSource("ollama").ok());
}

TEST(ModelsJson, AbsentOptionalsAreOmittedAndStayAbsent) {
  ModelEntry e;
  e.id = "sha256:" + std::string(64, 'b');
  e.source = ModelSource::kSafetensors;
  const json::object o = ToJson(e);
  for (const char* key : {"parameter_count", "context_length", "block_count", "head_count_kv",
                          "lora", "loaded", "memory", "refs", "revision", "quantization"})
    EXPECT_FALSE(o.contains(key)) << key;
  EXPECT_TRUE(o.contains("size_bytes"));  // a count is written even at zero
  auto back = ModelEntryFromJson(json::value(o));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, e);
  EXPECT_FALSE(back->parameter_count.has_value());
  EXPECT_FALSE(back->loaded.has_value());

  // An estimate without a KV cache keeps kv_cache_bytes absent.
  e.memory = MemoryEstimate{0, 100, std::nullopt, 100};
  auto weights_only = ModelEntryFromJson(json::value(ToJson(e)));
  ASSERT_TRUE(weights_only.ok());
  EXPECT_FALSE(weights_only->memory->kv_cache_bytes.has_value());
  EXPECT_EQ(weights_only->memory->total_bytes, 100u);
}

TEST(ModelsJson, NullReadsAsAbsentAndUnknownFieldsAreIgnored) {
  auto back = ModelEntryFromJson(
      Parse(R"({"id":"x","source":"gguf","block_count":null,"lora":null,"future_field":{"a":1}})"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->block_count.has_value());
  EXPECT_FALSE(back->lora.has_value());
}

TEST(ModelsJson, WrongTypesAndRangesNameTheFieldPath) {
  struct Case {
    const char* body;
    const char* field;
  };
  const Case cases[] = {
      {R"({"schema_version":1,"node_id":"n","entries":[{"id":"x","source":"gguf"},
          {"id":"y","source":"ollama"}]})",
       "entries[1].source"},
      {R"({"schema_version":1,"node_id":"n","entries":[{"id":"x","source":"gguf",
          "block_count":4294967296}]})",
       "entries[0].block_count"},
      {R"({"schema_version":1,"node_id":"n","entries":[{"id":"x","source":"gguf",
          "size_bytes":-1}]})",
       "entries[0].size_bytes"},
      {R"({"schema_version":1,"node_id":"n","entries":[{"id":"x","source":"lora",
          "lora":{"rank":"sixteen"}}]})",
       "entries[0].lora.rank"},
      {R"({"schema_version":1,"node_id":"n","entries":[{"id":"x","source":"gguf",
          "memory":{"weights_bytes":1.5}}]})",
       "entries[0].memory.weights_bytes"},
      {R"({"schema_version":1,"node_id":"n","entries":[{"source":"gguf"}]})", "entries[0].id"},
      {R"({"schema_version":1,"node_id":"n"})", "entries"},
      {R"({"node_id":"n","entries":[]})", "schema_version"},
      {R"({"schema_version":1,"node_id":"n","entries":[],"problems":[{"path":7}]})",
       "problems[0].path"},
  };
  for (const Case& c : cases) {
    auto r = ModelInventoryFromJson(Parse(c.body));
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(std::string(c.field) + ":", 0), 0u)
        << r.status().message();
  }
}

TEST(ModelsJson, NewerSchemaVersionIsRefusedOlderIsRead) {
  auto newer = ModelInventoryFromJson(Parse(R"({"schema_version":2,"node_id":"n","entries":[]})"));
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos);
  auto zero = ModelInventoryFromJson(Parse(R"({"schema_version":0,"node_id":"n","entries":[]})"));
  EXPECT_FALSE(zero.ok());
  auto current =
      ModelInventoryFromJson(Parse(R"({"schema_version":1,"node_id":"n","entries":[]})"));
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->schema_version, kModelInventorySchemaVersion);
}

TEST(ModelsJson, ValidateRefusesDuplicateIdsBadNodeIdsAndOversizeInventories) {
  ModelInventory inv = SampleInventory();
  EXPECT_TRUE(ValidateModelInventory(inv).ok());

  ModelInventory dup = inv;
  dup.entries[1].id = dup.entries[0].id;
  Status s = ValidateModelInventory(dup);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("entries[1].id"), std::string::npos) << s.message();

  ModelInventory bad_node = inv;
  bad_node.node_id = "box a";
  EXPECT_EQ(ValidateModelInventory(bad_node).code(), Code::kInvalidArgument);

  ModelInventory long_id = inv;
  long_id.entries[0].id = std::string(kMaxModelIdBytes + 1, 'x');
  EXPECT_EQ(ValidateModelInventory(long_id).code(), Code::kInvalidArgument);

  ModelInventory bad_utf8 = inv;
  bad_utf8.entries[0].id = "model\xff";
  EXPECT_EQ(ValidateModelInventory(bad_utf8).code(), Code::kInvalidArgument);

  ModelInventory many = inv;
  many.entries.resize(kMaxInventoryEntries + 1);
  for (size_t i = 0; i < many.entries.size(); ++i) many.entries[i].id = "m" + std::to_string(i);
  EXPECT_EQ(ValidateModelInventory(many).code(), Code::kTooLarge);
}

}  // namespace
}  // namespace populi::mesh
