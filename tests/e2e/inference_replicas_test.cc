// The front door across control-plane replicas, end to end: two real `vox populi serve` on one
// PostgreSQL schema, one agent given both URLs with a scripted engine (tests/e2e/fake_engine.mjs
// under node). The agent polls each replica for jobs, so a chat completion sent to either is
// answered by its node (one plain, one streamed), each job's answer posted back to the replica
// that handed it out; and once replica 1 is killed with SIGKILL a request through replica 2 is
// still answered. One mesh for all of it (each `vox` start costs CPU under ASan). Without
// POPULI_TEST_PG_DSN it skips (or fails when POPULI_TEST_PG_REQUIRED is set).
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/postgres_test_env.h"
#include "client/http_client.h"
#include "e2e/mesh_fixture.h"
#include "mesh/json.h"
#include "support/child_process.h"

namespace populi::e2e {
namespace inference_replicas_e2e {

class InferenceReplicasE2E : public MeshFixture {
 protected:
  void TearDown() override {
    engine_.Stop();
    for (auto& r : replicas_) r.Kill(SIGKILL);
    MeshFixture::TearDown();
  }

  // Starts replica `i` of the control plane on the shared schema; its URL ("" on failure).
  std::string StartReplica(size_t i, const std::map<std::string, std::string>& store) {
    const std::string name = "cp" + std::to_string(i);
    auto env = BaseEnv((root_ / (name + "-home")).string());
    env.insert(store.begin(), store.end());
    env["VOX_MESH_PROBE_MOCK_FIXTURE"] = WriteFixture(name, 0);
    const int port = FreePort();
    replicas_[i].Start(root_ / name,
                       {"populi", "serve", "--bind", "127.0.0.1:" + std::to_string(port),
                        "--data-dir", (root_ / (name + "-data")).string(), "--no-worker"},
                       env);
    if (replicas_[i].WaitForLine("listening on").empty()) return "";
    return "http://127.0.0.1:" + std::to_string(port);
  }

  static std::string Chat(bool stream) {
    return std::string(R"({"model":"m1","messages":[{"role":"user","content":"hi"}],"stream":)") +
           (stream ? "true}" : "false}");
  }

  static std::string ContentOf(const std::string& body) {
    auto v = mesh::ParseJson(body);
    if (!v.ok() || !v->is_object() || !v->as_object().contains("choices")) return "";
    const auto& message = v->as_object().at("choices").as_array().at(0).as_object().at("message");
    return std::string(message.as_object().at("content").as_string());
  }

  populi::testing::support::Child engine_;
  VoxProcess replicas_[2];
};

TEST_F(InferenceReplicasE2E, AnyReplicaReachesTheNodeAndTheSurvivorKeepsServing) {
  std::string dsn;
  populi::testing::NeedPostgresDsn(&dsn);
  if (IsSkipped() || HasFailure()) return;
  const std::map<std::string, std::string> store{
      {"VOX_MESH_STORE_BACKEND", "postgres"},
      {"VOX_MESH_STORE_DSN", dsn},
      {"VOX_MESH_STORE_SCHEMA", "infer_" + RandomHex(6)}};
  const std::string node_bin = populi::testing::support::ExecutableOnPath("node");
  ASSERT_FALSE(node_bin.empty()) << "no `node` on PATH (scripts/setup installs nodejs)";
  const std::string engine = populi::testing::support::StartListening(
      engine_, node_bin,
      {(fs::path(POPULI_SOURCE_DIR_AT_BUILD) / "tests/e2e/fake_engine.mjs").string(), "--name",
       "eta", "m1"},
      root_.string(), (root_ / "engine").string());
  ASSERT_FALSE(engine.empty()) << engine_.Err();
  const std::string one = StartReplica(0, store);
  ASSERT_FALSE(one.empty()) << replicas_[0].Stderr();
  const std::string two = StartReplica(1, store);
  ASSERT_FALSE(two.empty()) << replicas_[1].Stderr();

  // One agent given both replicas (the order an operator would write them in).
  agents_.push_back(std::make_unique<VoxProcess>());
  auto env = BaseEnv((root_ / "agent-home").string());
  env["VOX_MESH_PROBE_MOCK_FIXTURE"] = WriteFixture("agent", 0);
  fs::create_directories(root_ / "models");
  env["VOX_MESH_MODELS_DIRS"] = (root_ / "models").string();
  env["VOX_MESH_MODELS_HUB_CACHE"] = "off";
  env["VOX_MESH_INFERENCE_ENDPOINTS"] = engine;
  agent(0).Start(root_ / "agent", {"populi", "join", one + "," + two}, env);
  const std::string line = agent(0).WaitForLine("running against");
  ASSERT_NE(line, "") << agent(0).Stderr();
  std::string node;
  std::stringstream(line) >> node >> node;  // "node <id> running against <urls>"

  // Both replicas list the model once the inventory is in the store.
  for (const std::string& url : {one, two}) {
    client::HttpClient http(url);
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = http.SendRaw("GET", "/v1/models", {}, {}, 5'000);
          return r.ok() && r->body.find(R"("id":"m1")") != std::string::npos;
        },
        30'000))
        << url;
  }

  // Through replica 1, not streamed.
  client::HttpClient at_one(one);
  auto plain = at_one.SendRaw("POST", "/v1/chat/completions", Chat(false), {}, 60'000);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->status, 200) << plain->body;
  EXPECT_EQ(plain->Header("x-populi-node"), node);
  EXPECT_EQ(ContentOf(plain->body), "hello from eta");

  // Through replica 2, streamed: the job came from replica 2's poll, its chunks went back there.
  client::HttpClient at_two(two);
  std::vector<std::string> events;
  auto head = at_two.SendForEvents(
      "POST", "/v1/chat/completions", Chat(true),
      [&](const client::SseEvent& e) {
        events.push_back(e.data);
        return true;
      },
      60'000);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 200) << head->body;
  EXPECT_EQ(head->Header("x-populi-node"), node);
  ASSERT_GE(events.size(), 4u);  // three tokens, the finish chunk, [DONE]
  EXPECT_NE(events.front().find("hello"), std::string::npos) << events.front();
  EXPECT_EQ(events.back(), "[DONE]");

  // Replica 1 dies: the agent's poll there fails (and backs off), its poll on replica 2 goes on.
  replicas_[0].Kill(SIGKILL);
  auto after = at_two.SendRaw("POST", "/v1/chat/completions", Chat(false), {}, 60'000);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->status, 200) << after->body;
  EXPECT_EQ(after->Header("x-populi-node"), node);
  EXPECT_EQ(ContentOf(after->body), "hello from eta");
}

}  // namespace inference_replicas_e2e
}  // namespace populi::e2e
