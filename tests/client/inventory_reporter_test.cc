// The agent's model inventory over real HTTP: engines' model lists from canned servers shaped
// like vLLM, llama.cpp's server and Ollama (an endpoint that fails is a problem, not a failed
// scan), and the reporter against a real control plane: a whole inventory first, then refreshes
// and diffs, a whole resync when the control plane lost track, a span per cycle, and retries
// that back off under failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "agent/engine_source.h"
#include "agent/inventory_reporter.h"
#include "client/api_server.h"
#include "models/model_fixtures.h"
#include "obs/span_store.h"

namespace populi::client::testing {
namespace {

using agent::EngineEndpoint;
using agent::EngineSource;
using agent::ParseEngineEndpoint;

constexpr char kVllmModels[] = R"({"object":"list","data":[
    {"id":"meta-llama/Llama-3.1-8B-Instruct","object":"model","owned_by":"vllm",
     "parent":null,"max_model_len":8192},
    {"id":"support-lora","object":"model","owned_by":"vllm",
     "parent":"meta-llama/Llama-3.1-8B-Instruct","max_model_len":8192}]})";
constexpr char kLlamaServerModels[] = R"({"object":"list","data":[
    {"id":"tiny.gguf","object":"model","owned_by":"llamacpp",
     "meta":{"n_ctx_train":256,"n_params":12345,"size":99999,"n_embd":64}}]})";
constexpr char kOllamaModels[] = R"({"object":"list","data":[
    {"id":"llama3.2:1b","object":"model","owned_by":"library"},
    {"id":"qwen2.5:7b","object":"model","owned_by":"library"}]})";
constexpr char kOllamaPs[] = R"({"models":[{"name":"llama3.2:1b","model":"llama3.2:1b",
    "size":1300000000,"context_length":4096,
    "details":{"format":"gguf","quantization_level":"Q8_0"}}]})";

EngineEndpoint Endpoint(const std::string& url) {
  auto ep = ParseEngineEndpoint(url);
  EXPECT_TRUE(ep.ok()) << ep.status().ToString();
  return ep.ok() ? *ep : EngineEndpoint{};
}

const mesh::ModelEntry* ByName(const mesh::ModelInventory& inv, const std::string& name) {
  for (const auto& e : inv.entries)
    if (e.name == name) return &e;
  return nullptr;
}

TEST(EngineEndpoints, BaseUrlsWithAPrefixOrAV1SuffixAreAccepted) {
  EXPECT_EQ(Endpoint("http://127.0.0.1:8000").url, "http://127.0.0.1:8000");
  EXPECT_EQ(Endpoint("http://127.0.0.1:8000/v1/").url, "http://127.0.0.1:8000");
  const EngineEndpoint prefixed = Endpoint("https://gpu-box/llm/v1");
  EXPECT_EQ(prefixed.origin, "https://gpu-box");
  EXPECT_EQ(prefixed.prefix, "/llm");
  EXPECT_EQ(prefixed.url, "https://gpu-box/llm");
  for (const char* bad :
       {"127.0.0.1:8000", "ftp://x", "http://", "http://u:p@host:1", "http://host/v1?key=1"}) {
    auto ep = ParseEngineEndpoint(bad);
    EXPECT_EQ(ep.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(ep.status().message().find("mesh.inference.endpoints"), std::string::npos) << bad;
  }
}

TEST(EngineSourceTest, ListsVllmLlamaServerAndOllamaModels) {
  CannedServer vllm({{"/v1/models", CannedServer::Answer(kVllmModels)}});
  CannedServer llama({{"/v1/models", CannedServer::Answer(kLlamaServerModels)}});
  CannedServer ollama({{"/v1/models", CannedServer::Answer(kOllamaModels)},
                       {"/api/ps", CannedServer::Answer(kOllamaPs)}});
  EngineSource source(
      {Endpoint(vllm.url() + "/v1"), Endpoint(llama.url()), Endpoint(ollama.url())});
  mesh::ModelInventory inv;
  for (int round = 0; round < 2; ++round) {  // the second round knows which is Ollama
    inv = {};
    EXPECT_EQ(source.Scan(inv), 0);
    EXPECT_TRUE(inv.problems.empty()) << inv.problems[0].message;
    ASSERT_EQ(inv.entries.size(), 5u);
    EXPECT_TRUE(std::is_sorted(inv.entries.begin(), inv.entries.end(),
                               [](const auto& a, const auto& b) { return a.id < b.id; }));
    const auto* base = ByName(inv, "meta-llama/Llama-3.1-8B-Instruct");
    ASSERT_NE(base, nullptr);
    EXPECT_EQ(base->id, "meta-llama/Llama-3.1-8B-Instruct@" + vllm.url());
    EXPECT_EQ(base->source, mesh::ModelSource::kEngine);
    EXPECT_EQ(base->endpoint, vllm.url());
    EXPECT_EQ(base->context_length, 8192u);
    EXPECT_EQ(base->loaded, true);
    EXPECT_FALSE(base->lora.has_value());
    const auto* lora = ByName(inv, "support-lora");
    ASSERT_NE(lora, nullptr);
    ASSERT_TRUE(lora->lora.has_value());
    EXPECT_EQ(lora->lora->base_model, "meta-llama/Llama-3.1-8B-Instruct");
    const auto* tiny = ByName(inv, "tiny.gguf");
    ASSERT_NE(tiny, nullptr);
    EXPECT_EQ(tiny->format, "gguf");
    EXPECT_EQ(tiny->size_bytes, 99999u);
    EXPECT_EQ(tiny->parameter_count, 12345u);
    EXPECT_EQ(tiny->context_length, 256u);
    const auto* loaded = ByName(inv, "llama3.2:1b");
    ASSERT_NE(loaded, nullptr);
    EXPECT_EQ(loaded->loaded, true);
    EXPECT_EQ(loaded->context_length, 4096u);
    EXPECT_EQ(loaded->quantization, "Q8_0");
    const auto* on_disk = ByName(inv, "qwen2.5:7b");
    ASSERT_NE(on_disk, nullptr);
    EXPECT_EQ(on_disk->loaded, false);
  }
}

TEST(EngineSourceTest, AnEndpointThatFailsIsAProblemBesideTheOthersModels) {
  CannedServer good({{"/v1/models", CannedServer::Answer(kLlamaServerModels)}});
  CannedServer broken({{"/v1/models", CannedServer::Answer(R"({"error":"boom"})", 500)}});
  CannedServer wrong({{"/v1/models", CannedServer::Answer(R"({"models":[]})")}});
  EngineSource source({Endpoint("http://127.0.0.1:1"), Endpoint(broken.url()),
                       Endpoint(wrong.url()), Endpoint(good.url())},
                      2'000);
  mesh::ModelInventory inv;
  inv.entries.push_back({});
  inv.entries[0].id = "sha256:" + std::string(64, 'f');
  EXPECT_EQ(source.Scan(inv), 3);
  ASSERT_EQ(inv.entries.size(), 2u);  // the disk entry and the good engine's
  EXPECT_NE(ByName(inv, "tiny.gguf"), nullptr);
  ASSERT_EQ(inv.problems.size(), 3u);
  for (const auto& p : inv.problems) EXPECT_EQ(p.source, "engine");
  EXPECT_EQ(inv.problems[0].path, "http://127.0.0.1:1");
  EXPECT_NE(inv.problems[0].message.find("GET /v1/models: unreachable"), std::string::npos)
      << inv.problems[0].message;
  EXPECT_EQ(inv.problems[0].message.find("control plane"), std::string::npos);
  EXPECT_NE(inv.problems[1].message.find("answered HTTP 500"), std::string::npos);
  EXPECT_NE(inv.problems[2].message.find("data: required field is missing"), std::string::npos)
      << inv.problems[2].message;
}

class InventoryReporterTest : public ApiServerTest {
 protected:
  void SetUp() override {
    ApiServerTest::SetUp();
    ASSERT_TRUE(Api().Join(JoinedNode("box-a")).ok());
  }
  static mesh::NodeRecord JoinedNode(const std::string& id) {
    mesh::NodeRecord n;
    n.id = id;
    n.version = "test";
    return n;
  }
  agent::InventoryReporterOptions Reporting(const std::string& node) {
    agent::InventoryReporterOptions o;
    o.control_url = server_->url();
    o.token = kWorkerToken;
    o.node_id = node;
    o.poll_ms = 1'000;
    o.scan.node_id = node;
    o.scan.model_dirs = {models_.Sub("models")};
    return o;
  }
  std::vector<std::string> Listed() {
    std::vector<std::string> out;
    auto list = Api(kReadOnlyToken).Models();
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return out;
    for (const auto& m : list->models)
      for (const auto& h : m.nodes) out.push_back(m.model.name + "@" + h.node_id);
    std::sort(out.begin(), out.end());
    return out;
  }

  models::testing::TempDir models_;
};

const obs::AttributeValue* Attr(const obs::Span& s, std::string_view key) {
  return s.Find(key);
}

TEST_F(InventoryReporterTest, WholeFirstThenRefreshesAndDiffsAndAWholeResync) {
  models::testing::WriteBytes(models_.Sub("models/tiny.gguf"),
                              models::testing::TinyLlamaGguf().Build());
  CannedServer engine({{"/v1/models", CannedServer::Answer(kLlamaServerModels)}});
  agent::InventoryReporterOptions o = Reporting("box-a");
  o.engines = {Endpoint(engine.url())};
  agent::InventoryReporter reporter(o, nullptr);

  ASSERT_TRUE(reporter.RunCycle().ok());
  EXPECT_EQ(reporter.stats().whole_reports, 1);
  EXPECT_EQ(Listed(), (std::vector<std::string>{"Tiny Llama@box-a", "tiny.gguf@box-a"}));
  ASSERT_TRUE(reporter.RunCycle().ok());
  EXPECT_EQ(reporter.stats().refreshes, 1);

  std::string second = models::testing::TinyLlamaGguf().Build();
  second.back() = '\x22';  // other content: another id
  models::testing::WriteBytes(models_.Sub("models/sub/second.gguf"), second);
  ASSERT_TRUE(reporter.RunCycle().ok());
  EXPECT_EQ(reporter.stats().diff_reports, 1);
  EXPECT_EQ(Listed().size(), 3u);

  // The control plane loses the node's inventory: the next diff is refused, the whole follows.
  ASSERT_TRUE(store_
                  ->Write([](store::WriteTxn& t) -> Status {
                    POPULI_RETURN_IF_ERROR(t.DeleteKv("models", "box-a"));
                    return t.DeleteKv("models.refresh", "box-a");
                  })
                  .ok());
  EXPECT_TRUE(Listed().empty());
  std::filesystem::remove(models_.Sub("models/tiny.gguf"));
  ASSERT_TRUE(reporter.RunCycle().ok());
  const agent::InventoryReporterStats stats = reporter.stats();
  EXPECT_EQ(stats.resyncs, 1);
  EXPECT_EQ(stats.whole_reports, 2);
  EXPECT_EQ(stats.models, 2);
  EXPECT_EQ(stats.failures, 0);
  EXPECT_EQ(Listed().size(), 2u);

  // One models.poll span per cycle, with what the cycle found and sent.
  const std::vector<obs::Span> spans = reporter.TakeSpans();
  ASSERT_EQ(spans.size(), 4u);
  for (const auto& s : spans) {
    EXPECT_EQ(s.name, "models.poll");
    EXPECT_EQ(s.node_id, "box-a");
    EXPECT_FALSE(s.error);
  }
  EXPECT_EQ(std::get<std::string>(*Attr(spans[0], "vox.models.report")), "whole");
  EXPECT_EQ(std::get<std::string>(*Attr(spans[1], "vox.models.report")), "refresh");
  EXPECT_EQ(std::get<std::string>(*Attr(spans[2], "vox.models.report")), "diff");
  EXPECT_EQ(std::get<int64_t>(*Attr(spans[2], "vox.models.added")), 1);
  EXPECT_EQ(std::get<int64_t>(*Attr(spans[2], "vox.models.count")), 3);
  EXPECT_EQ(std::get<std::string>(*Attr(spans[3], "vox.models.report")), "whole");
  EXPECT_EQ(std::get<bool>(*Attr(spans[3], "vox.models.resync")), true);
  EXPECT_EQ(std::get<int64_t>(*Attr(spans[3], "vox.models.engine_errors")), 0);
}

TEST_F(InventoryReporterTest, AnUnknownNodeAndAnEngineErrorShowInTheCyclesSpan) {
  std::filesystem::create_directories(models_.Sub("models"));
  agent::InventoryReporterOptions o = Reporting("box-b");  // never joined
  o.engines = {Endpoint("http://127.0.0.1:1")};
  o.engine_timeout_ms = 2'000;
  agent::InventoryReporter reporter(o, nullptr);
  Status s = reporter.RunCycle();
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_EQ(reporter.stats().failures, 1);
  const std::vector<obs::Span> spans = reporter.TakeSpans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_TRUE(spans[0].error);
  EXPECT_EQ(std::get<int64_t>(*Attr(spans[0], "vox.models.engine_errors")), 1);
  EXPECT_EQ(std::get<int64_t>(*Attr(spans[0], "vox.models.problems")), 1);
}

TEST_F(InventoryReporterTest, TheRunningReporterSendsItsCyclesSpansToTheControlPlane) {
  obs::SpanStore spans(1'000);
  plane_->SetSpanStore(&spans);
  std::filesystem::create_directories(models_.Sub("models"));
  agent::InventoryReporter reporter(Reporting("box-a"), nullptr);
  reporter.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (spans.stats().recorded == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  reporter.Stop();
  plane_->SetSpanStore(nullptr);
  EXPECT_GE(reporter.stats().whole_reports, 1);
  EXPECT_GE(spans.stats().recorded, 1u);  // the first cycle's models.poll span
}

TEST_F(InventoryReporterTest, FailedReportsBackOffWithJitterUpToThePollInterval) {
  agent::InventoryReporterOptions o = Reporting("box-a");
  o.control_url = "http://127.0.0.1:1";  // nothing listens there
  o.poll_ms = 2'000;
  o.backoff_base_ms = 200;
  agent::InventoryReporter reporter(o, nullptr);
  reporter.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (reporter.stats().consecutive_failures < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const agent::InventoryReporterStats stats = reporter.stats();
  reporter.Stop();
  EXPECT_GE(stats.consecutive_failures, 4);
  EXPECT_EQ(stats.whole_reports, 0);
  // The fourth delay's ceiling is 200 × 2^3 = 1,600 ms, under the 2 s poll; the floor half the
  // base.
  EXPECT_GE(stats.last_delay_ms, 100);
  EXPECT_LE(stats.last_delay_ms, 2'000);
}

}  // namespace
}  // namespace populi::client::testing
