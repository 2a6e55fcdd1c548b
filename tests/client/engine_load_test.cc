// The agent's engine load probe (agent/engine_load.h): the parsers on answers recorded from
// llama-server (GET /slots, current and older shapes, and the 501 of a server started without
// slots) and vLLM (GET /metrics), then the probe over real HTTP against canned engines: each
// kind found and read, an engine that offers neither (Ollama) reports nothing and is asked
// again only every few rounds.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/engine_load.h"
#include "client/api_server.h"
#include "mesh/json.h"

namespace populi::client::testing {
namespace engine_load_test {

using agent::EngineLoadProbe;
using agent::ParseLlamaSlots;
using agent::ParseVllmMetrics;

std::string Fixture(const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(POPULI_SOURCE_DIR_AT_BUILD) /
                                     "tests/client/fixtures/engine_load" / name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

boost::json::value Json(const std::string& text) {
  auto v = mesh::ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : boost::json::value();
}

TEST(EngineLoadParsers, LlamaServerSlotsCurrentAndOlder) {
  auto now = ParseLlamaSlots(Json(Fixture("llama_slots.json")));
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ(now->busy, 2);  // is_processing
  EXPECT_EQ(now->slots, 4);
  EXPECT_EQ(now->waiting, -1);  // /slots does not say
  auto older = ParseLlamaSlots(Json(Fixture("llama_slots_state.json")));
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  EXPECT_EQ(older->busy, 1);  // state != 0
  EXPECT_EQ(older->slots, 2);
  // Not the shape: the 501 error body, a slot without either field, a wrong type.
  for (const std::string& bad : {Fixture("llama_no_slots.json"), std::string(R"([{"id":0}])"),
                                 std::string(R"([{"is_processing":1}])")}) {
    auto r = ParseLlamaSlots(Json(bad));
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(EngineLoadParsers, VllmMetricsSumOverLabelSets) {
  auto c = ParseVllmMetrics(Fixture("vllm_metrics.txt"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->busy, 5);     // 3 + 2 over the two engines
  EXPECT_EQ(c->waiting, 4);  // 4 + 0
  EXPECT_EQ(c->slots, -1);
  // Only the exact names count, a '}' inside a quoted label value included; no waiting sample
  // leaves waiting unknown; no running sample is no report.
  auto exact = ParseVllmMetrics(
      "vllm:num_requests_running_total{model_name=\"a}b\"} 99\n"
      "vllm:num_requests_running{model_name=\"x}\\\"y\"} 7 1733560000000\r\n");
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  EXPECT_EQ(exact->busy, 7);
  EXPECT_EQ(exact->waiting, -1);
  EXPECT_EQ(ParseVllmMetrics("# HELP x\nprocess_cpu_seconds_total 3\n").status().code(),
            Code::kNotFound);
}

agent::EngineEndpoint Endpoint(const std::string& url) {
  auto ep = agent::ParseEngineEndpoint(url);
  EXPECT_TRUE(ep.ok()) << ep.status().ToString();
  return ep.ok() ? *ep : agent::EngineEndpoint{};
}

TEST(EngineLoadProbeTest, ReadsEachKindAndNothingFromEnginesThatDoNotSay) {
  CannedServer llama({{"/slots", CannedServer::Answer(Fixture("llama_slots.json"))}});
  CannedServer vllm({{"/metrics", [](http::Request&) {
                        http::Response r = http::JsonResponse(Fixture("vllm_metrics.txt"), 200);
                        r.content_type = "text/plain; version=0.0.4";
                        return r;
                      }}});
  CannedServer no_slots({{"/slots", CannedServer::Answer(Fixture("llama_no_slots.json"), 501)}});
  std::atomic<int> ollama_asked{0};
  CannedServer ollama({{"/api/ps", CannedServer::Answer(R"({"models":[]})")},
                       {"/slots", [&](http::Request&) {
                          ++ollama_asked;
                          return http::JsonResponse(R"({"error":"not found"})", 404);
                        }}});
  EngineLoadProbe probe({Endpoint(llama.url()), Endpoint(vllm.url() + "/v1"),
                         Endpoint(no_slots.url()), Endpoint(ollama.url())},
                        2'000);
  auto round = probe.Probe(42);
  ASSERT_EQ(round.size(), 2u);
  EXPECT_EQ(round[0], (mesh::EngineLoad{llama.url(), 2, -1, 4, 42}));
  EXPECT_EQ(round[1], (mesh::EngineLoad{vllm.url(), 5, 4, -1, 42}));
  EXPECT_EQ(ollama_asked.load(), 1);
  // The engines that offered neither are left alone until the recheck round.
  for (int i = 1; i < agent::kEngineLoadRecheckRounds; ++i) EXPECT_EQ(probe.Probe(43).size(), 2u);
  EXPECT_EQ(ollama_asked.load(), 1);
  EXPECT_EQ(probe.Probe(44).size(), 2u);
  EXPECT_EQ(ollama_asked.load(), 2);
}

}  // namespace engine_load_test
}  // namespace populi::client::testing
