// The inventory's reporting protocol and mesh-wide listing on the wire, and the readers of what
// local engines answer: round trips keep every field, the strict reader names what it refuses,
// and a received report is checked before it is applied.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mesh/inventory.h"
#include "mesh/inventory_json.h"
#include "mesh/json.h"
#include "mesh/parse_json.h"

namespace populi::mesh {
namespace {

using testing::Parse;

ModelEntry ReportEntry(const std::string& id, const std::string& name) {
  ModelEntry e;
  e.id = id;
  e.name = name;
  e.source = ModelSource::kGguf;
  e.path = "/models/" + name + ".gguf";
  e.format = "gguf";
  e.quantization = "Q4_K_M";
  e.size_bytes = 1234;
  e.context_length = 256;
  return e;
}

InventoryReport SampleDiffReport() {
  InventoryReport r;
  r.node_id = "box-a";
  r.base_generation = 1'700'000'000'000;
  r.poll_ms = 60'000;
  r.generated_ms = 1'700'000'000'500;
  r.entries = {ReportEntry("sha256:" + std::string(64, 'b'), "b")};
  r.removed = {"sha256:" + std::string(64, 'a')};
  r.problems = {{"engine", "http://127.0.0.1:9", "GET /v1/models: unreachable (refused)"}};
  return r;
}

template <typename T, typename Decode>
T RoundTrip(const T& value, Decode decode) {
  auto back = decode(Parse(Serialize(ToJson(value))));
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  return back.ok() ? *back : T{};
}

TEST(InventoryJson, ReportsRepliesAndStoredRowsRoundTrip) {
  const InventoryReport diff = SampleDiffReport();
  EXPECT_EQ(RoundTrip(diff, InventoryReportFromJson), diff);
  InventoryReport refresh;
  refresh.node_id = "box-a";
  refresh.base_generation = 7;
  refresh.refresh = true;
  refresh.poll_ms = 1'000;
  EXPECT_EQ(RoundTrip(refresh, InventoryReportFromJson), refresh);

  const InventoryReportReply reply{"box-a", 42, 1'700'000'000'999, 3, 1, 2};
  EXPECT_EQ(RoundTrip(reply, InventoryReportReplyFromJson), reply);

  StoredInventory stored;
  stored.generation = 42;
  stored.poll_ms = 60'000;
  stored.updated_ms = 1'700'000'000'999;
  stored.inventory.node_id = "box-a";
  stored.inventory.entries = {ReportEntry("sha256:" + std::string(64, 'c'), "c")};
  EXPECT_EQ(RoundTrip(stored, StoredInventoryFromJson), stored);

  const InventoryRefresh row{42, 60'000, 1'700'000'001'000};
  EXPECT_EQ(RoundTrip(row, InventoryRefreshFromJson), row);
}

TEST(InventoryJson, TheMeshWideListingRoundTrips) {
  MeshModelList list;
  list.server_time_ms = 1'700'000'002'000;
  MeshModel m;
  m.model = ReportEntry("llama3:8b@http://127.0.0.1:11434", "llama3:8b");
  m.model.source = ModelSource::kEngine;
  m.model.path.clear();
  m.nodes = {{"box-a",
              InventoryFreshness::kFresh,
              NodeState::kAlive,
              ModelSource::kEngine,
              "",
              "http://127.0.0.1:11434",
              true,
              {},
              1'700'000'001'000},
             {"box-b",
              InventoryFreshness::kStale,
              NodeState::kSuspect,
              ModelSource::kEngine,
              "",
              "http://127.0.0.1:11434",
              false,
              {"main"},
              1'700'000'000'000}};
  list.models = {m};
  list.nodes = {{"box-a",
                 InventoryFreshness::kFresh,
                 NodeState::kAlive,
                 9,
                 60'000,
                 1'700'000'001'000,
                 1'700'000'000'000,
                 1,
                 {}},
                {"box-b",
                 InventoryFreshness::kStale,
                 NodeState::kSuspect,
                 4,
                 1'000,
                 1'700'000'000'000,
                 1'600'000'000'000,
                 1,
                 {{"gguf", "/m/x.gguf", "truncated"}}}};
  EXPECT_EQ(RoundTrip(list, MeshModelListFromJson), list);
  // A model object is the entry's own fields plus its holders.
  const auto o = ToJson(m);
  EXPECT_EQ(o.at("name").as_string(), "llama3:8b");
  EXPECT_EQ(o.at("nodes").as_array().size(), 2u);
  EXPECT_EQ(o.at("nodes").as_array()[1].at("state").as_string(), "stale");
}

TEST(InventoryJson, TheStrictReaderNamesWhatItRefuses) {
  auto newer = InventoryReportFromJson(Parse(R"({"schema_version":2,"node_id":"a"})"));
  EXPECT_EQ(newer.status().code(), Code::kInvalidArgument);
  EXPECT_NE(newer.status().message().find("schema_version: 2"), std::string::npos);
  auto no_node = InventoryReportFromJson(Parse(R"({"schema_version":1})"));
  EXPECT_NE(no_node.status().message().find("node_id: required"), std::string::npos);
  auto bad_entry = InventoryReportFromJson(
      Parse(R"({"schema_version":1,"node_id":"a","entries":[{"id":"x","source":"disk"}]})"));
  EXPECT_NE(bad_entry.status().message().find("entries[0].source"), std::string::npos)
      << bad_entry.status().ToString();
  auto bad_holder = MeshModelListFromJson(Parse(
      R"({"models":[{"id":"x","source":"gguf","nodes":[{"node_id":"a","state":"old","source":"gguf"}]}]})"));
  EXPECT_NE(bad_holder.status().message().find("models[0].nodes[0].state"), std::string::npos)
      << bad_holder.status().ToString();
  EXPECT_FALSE(InventoryReportReplyFromJson(Parse(R"({"node_id":"a"})")).ok());
}

TEST(InventoryJson, ValidationChecksIdsCountsAndTheRefreshRule) {
  InventoryReport r = SampleDiffReport();
  EXPECT_TRUE(ValidateInventoryReport(r).ok());

  InventoryReport bad = r;
  bad.node_id = "not an id";
  EXPECT_NE(ValidateInventoryReport(bad).message().find("node_id"), std::string::npos);
  bad = r;
  bad.poll_ms = 10;
  EXPECT_NE(ValidateInventoryReport(bad).message().find("poll_ms"), std::string::npos);
  bad = r;
  bad.base_generation = 0;
  bad.refresh = true;
  EXPECT_NE(ValidateInventoryReport(bad).message().find("refresh"), std::string::npos);
  bad = r;
  bad.entries.push_back(bad.entries[0]);
  EXPECT_NE(ValidateInventoryReport(bad).message().find("entries[1].id"), std::string::npos);
  bad = r;
  bad.removed.push_back(bad.entries[0].id);
  EXPECT_NE(ValidateInventoryReport(bad).message().find("removed[1]"), std::string::npos);
  bad = r;
  bad.entries[0].id = std::string(kMaxModelIdBytes + 1, 'x');
  EXPECT_NE(ValidateInventoryReport(bad).message().find("entries[0].id"), std::string::npos);
  bad = r;
  bad.problems.assign(kMaxInventoryProblems + 1, r.problems[0]);
  EXPECT_EQ(ValidateInventoryReport(bad).code(), Code::kTooLarge);
  bad = r;
  bad.removed.assign(kMaxInventoryEntries + 1, "x");
  EXPECT_EQ(ValidateInventoryReport(bad).code(), Code::kTooLarge);
}

TEST(InventoryJson, EngineListsAsVllmLlamaServerAndOllamaAnswer) {
  auto vllm = EngineModelListFromJson(Parse(R"({"object":"list","data":[
      {"id":"meta-llama/Llama-3.1-8B-Instruct","object":"model","owned_by":"vllm",
       "root":"meta-llama/Llama-3.1-8B-Instruct","parent":null,"max_model_len":8192,
       "permission":[{"id":"modelperm-1"}]},
      {"id":"support-lora","object":"model","owned_by":"vllm",
       "parent":"meta-llama/Llama-3.1-8B-Instruct","max_model_len":8192}]})"));
  ASSERT_TRUE(vllm.ok()) << vllm.status().ToString();
  ASSERT_EQ(vllm->size(), 2u);
  EXPECT_EQ((*vllm)[0].max_model_len, 8192u);
  EXPECT_EQ((*vllm)[0].parent, "");
  EXPECT_EQ((*vllm)[1].parent, "meta-llama/Llama-3.1-8B-Instruct");

  auto llama = EngineModelListFromJson(Parse(R"({"object":"list","data":[
      {"id":"tiny.gguf","object":"model","created":1,"owned_by":"llamacpp",
       "meta":{"vocab_type":2,"n_vocab":3,"n_ctx_train":256,"n_embd":64,"n_params":12345,
               "size":99999}}]})"));
  ASSERT_TRUE(llama.ok()) << llama.status().ToString();
  EXPECT_EQ((*llama)[0].n_ctx_train, 256u);
  EXPECT_EQ((*llama)[0].n_params, 12345u);
  EXPECT_EQ((*llama)[0].size, 99999u);

  auto ps = OllamaLoadedModelsFromJson(Parse(R"({"models":[
      {"name":"llama3.2:1b","model":"llama3.2:1b","size":2000,"size_vram":2000,
       "context_length":4096,"details":{"format":"gguf","family":"llama",
       "quantization_level":"Q8_0"}}]})"));
  ASSERT_TRUE(ps.ok()) << ps.status().ToString();
  EXPECT_EQ((*ps)[0].name, "llama3.2:1b");
  EXPECT_EQ((*ps)[0].context_length, 4096u);
  EXPECT_EQ((*ps)[0].quantization, "Q8_0");
  EXPECT_TRUE(OllamaLoadedModelsFromJson(Parse(R"({"models":null})"))->empty());

  EXPECT_NE(EngineModelListFromJson(Parse(R"({"object":"list"})")).status().message().find("data"),
            std::string::npos);
  EXPECT_NE(EngineModelListFromJson(Parse(R"({"data":[{"object":"model"}]})"))
                .status()
                .message()
                .find("data[0].id"),
            std::string::npos);
  EXPECT_FALSE(OllamaLoadedModelsFromJson(Parse(R"({"status":"ok"})")).ok());
}

TEST(InventoryJson, ModelEventsNameTheNodeAndWhereTheModelIs) {
  const ModelEntry e = ReportEntry("sha256:" + std::string(64, 'd'), "d");
  const auto data = ModelEventData("box-a", e);
  EXPECT_EQ(data.at("node_id").as_string(), "box-a");
  EXPECT_EQ(data.at("name").as_string(), "d");
  EXPECT_EQ(data.at("source").as_string(), "gguf");
  EXPECT_EQ(data.at("path").as_string(), "/models/d.gguf");
  EXPECT_FALSE(data.contains("endpoint"));
}

}  // namespace
}  // namespace populi::mesh
