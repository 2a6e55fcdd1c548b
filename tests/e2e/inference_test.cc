// The OpenAI-compatible front door end to end: a real control plane, two real agents, each with
// its own scripted engine (tests/e2e/fake_engine.mjs under node, a real process on loopback;
// "alpha" behind agent 0, "beta" behind agent 1). One mesh covers: GET /v1/models from the
// inventories; a chat completion, not streamed and streamed, for a model only beta serves,
// relayed through beta's agent (which never listens) with x-populi-node naming it; a failover
// before the first token (prefix affinity sends a conversation back to alpha, whose engine
// answers 500, and beta serves it) as `explain` shows; the error event that ends a stream whose
// engine died after its first tokens; a client that goes away cancelling the engine's request;
// embeddings; engine truth (alpha's engine reports every slot busy with outside traffic, so a
// conversation that would follow alpha goes to beta); OpenAI-shaped errors; `vox populi chat`.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/serve_process.h"
#include "client/http_client.h"
#include "e2e/mesh_fixture.h"
#include "mesh/json.h"
#include "support/child_process.h"

namespace populi::e2e {
namespace inference_e2e {

std::string NodeBinary() {
  return populi::testing::support::ExecutableOnPath("node");
}

// A chat request body: a system message and `turns` as alternating user / assistant messages.
std::string ChatBody(const std::string& model, const std::vector<std::string>& turns, bool stream,
                     const std::string& system = "be brief") {
  boost::json::array messages;
  messages.push_back({{"role", "system"}, {"content", system}});
  for (size_t i = 0; i < turns.size(); ++i)
    messages.push_back({{"role", i % 2 == 0 ? "user" : "assistant"}, {"content", turns[i]}});
  return boost::json::serialize(
      boost::json::object{{"model", model}, {"messages", messages}, {"stream", stream}});
}

struct Streamed {
  int status = 0;
  std::string node;
  std::vector<std::string> events;
  std::string body;
  // The text of the token events.
  std::string Text() const {
    std::string out;
    for (const auto& e : events) {
      auto v = mesh::ParseJson(e);
      if (!v.ok() || !v->is_object() || !v->as_object().contains("choices")) continue;
      const auto& delta = v->as_object().at("choices").as_array().at(0).as_object().at("delta");
      if (const auto* c = delta.as_object().if_contains("content")) out += c->as_string().c_str();
    }
    return out;
  }
};

class InferenceE2E : public MeshFixture {
 protected:
  void TearDown() override {
    for (auto& engine : engines_) engine->Stop();
    MeshFixture::TearDown();
  }

  // Starts the scripted engine `name` listing `ids`; its base URL.
  std::string StartEngine(const std::string& name, const std::vector<std::string>& ids) {
    const std::string node = NodeBinary();
    EXPECT_FALSE(node.empty()) << "no `node` on PATH (scripts/setup installs nodejs)";
    if (node.empty()) return "";
    const std::string script =
        (fs::path(POPULI_SOURCE_DIR_AT_BUILD) / "tests/e2e/fake_engine.mjs").string();
    std::vector<std::string> args{script, "--name", name};
    args.insert(args.end(), ids.begin(), ids.end());
    engines_.push_back(std::make_unique<populi::testing::support::Child>());
    const std::string url = populi::testing::support::StartListening(
        *engines_.back(), node, args, root_.string(), (root_ / ("engine-" + name)).string());
    EXPECT_FALSE(url.empty()) << engines_.back()->Err();
    return url;
  }

  std::string StartEngineAgent(size_t index, const std::string& endpoint) {
    const fs::path dir = root_ / ("models-" + std::to_string(index));
    fs::create_directories(dir);
    extra_env_["VOX_MESH_MODELS_DIRS"] = dir.string();
    extra_env_["VOX_MESH_MODELS_POLL_INTERVAL"] = "5s";
    extra_env_["VOX_MESH_MODELS_HUB_CACHE"] = "off";
    extra_env_["VOX_MESH_INFERENCE_ENDPOINTS"] = endpoint;
    const std::string id = StartAgent(index);
    extra_env_.clear();
    return id;
  }

  client::ClientResponse Post(const std::string& path, const std::string& body,
                              const std::string& request_id = {},
                              const std::string& traceparent = {}) {
    client::HttpClient http(url());
    client::HeaderList headers;
    if (!request_id.empty()) headers.emplace_back("x-request-id", request_id);
    if (!traceparent.empty()) headers.emplace_back("traceparent", traceparent);
    auto r = http.SendRaw("POST", path, body, headers, 60'000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : client::ClientResponse{};
  }

  // A streamed chat; `stop_after` events read, then the connection is closed (0: to the end).
  Streamed Stream(const std::string& body, size_t stop_after = 0) {
    client::HttpClient http(url());
    Streamed s;
    auto head = http.SendForEvents(
        "POST", "/v1/chat/completions", body,
        [&](const client::SseEvent& e) {
          s.events.push_back(e.data);
          return stop_after == 0 || s.events.size() < stop_after;
        },
        60'000);
    EXPECT_TRUE(head.ok()) << head.status().ToString();
    if (head.ok()) {
      s.status = head->status;
      s.node = std::string(head->Header("x-populi-node"));
      s.body = head->body;
    }
    return s;
  }

  boost::json::object JsonOf(const std::string& text) {
    auto v = mesh::ParseJson(text);
    EXPECT_TRUE(v.ok() && v->is_object()) << text;
    return v.ok() && v->is_object() ? v->as_object() : boost::json::object{};
  }

  int64_t EngineStat(const std::string& engine, const char* key) {
    client::HttpClient http(engine);
    auto r = http.SendRaw("GET", "/debug/stats", {}, {}, 5'000);
    if (!r.ok()) return -1;
    return JsonOf(r->body).at(key).as_int64();
  }

  std::vector<std::unique_ptr<populi::testing::support::Child>> engines_;
};

TEST_F(InferenceE2E, FrontDoorRoutesStreamsFailsOverAndCancels) {
  const std::string alpha = StartEngine("alpha", {"shared", "only-a"});
  const std::string beta = StartEngine("beta", {"shared", "only-b"});
  ASSERT_FALSE(alpha.empty());
  ASSERT_FALSE(beta.empty());
  StartControl();
  const std::string a = StartEngineAgent(0, alpha);
  const std::string b = StartEngineAgent(1, beta);
  client::HttpClient http(url());

  // GET /v1/models: every model an engine serves, by its engine's name, once.
  std::string listed;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.SendRaw("GET", "/v1/models", {}, {}, 5'000);
        if (!r.ok() || r->status != 200) return false;
        listed = r->body;
        auto list = JsonOf(r->body);
        if (list.at("object") != "list") return false;
        std::map<std::string, int64_t> nodes;
        for (const auto& m : list.at("data").as_array())
          nodes[std::string(m.at("id").as_string())] = m.at("populi").at("nodes").as_int64();
        return nodes == std::map<std::string, int64_t>{{"only-a", 1}, {"only-b", 1}, {"shared", 2}};
      },
      30'000))
      << listed;

  // Not streamed, for a model only beta's engine has: through beta's agent.
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto plain = Post("/v1/chat/completions", ChatBody("only-b", {"hi"}, false), {},
                    "00-" + trace_id + "-00f067aa0ba902b7-01");
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.Header("x-populi-node"), b);
  EXPECT_EQ(JsonOf(plain.body).at("choices").at(0).at("message").at("content"), "hello from beta");

  // Its span, in the client's trace: GenAI attributes with the engine's token counts, and where
  // the front door sent it. Recorded once the request has ended (after the answer is written).
  boost::json::object genai;
  std::string trace_body;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = http.SendRaw("GET", "/v1/populi/traces/" + trace_id, {}, {}, 5'000);
        if (!r.ok() || r->status != 200) return false;
        trace_body = r->body;
        const boost::json::object trace = JsonOf(r->body);
        for (const auto& span : trace.at("spans").as_array()) {
          if (span.at("name") == "chat only-b") genai = span.at("attributes").as_object();
        }
        return !genai.empty();
      },
      10'000))
      << trace_body;
  if (!genai.empty()) {
    EXPECT_EQ(genai.at("gen_ai.operation.name"), "chat");
    EXPECT_EQ(genai.at("gen_ai.request.model"), "only-b");
    EXPECT_EQ(genai.at("gen_ai.usage.output_tokens"), 3);  // "hello", " from", " beta"
    EXPECT_GT(genai.at("gen_ai.usage.input_tokens").as_int64(), 0);
    EXPECT_EQ(std::string(genai.at("vox.mesh.node_id").as_string()), b);
    EXPECT_EQ(genai.at("vox.mesh.inference.attempts"), 1);
  }

  // Streamed: the engine's chunks one by one, then [DONE].
  Streamed streamed = Stream(ChatBody("only-b", {"hi there"}, true));
  EXPECT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_EQ(streamed.node, b);
  EXPECT_EQ(streamed.Text(), "hello from beta");
  ASSERT_FALSE(streamed.events.empty());
  EXPECT_EQ(streamed.events.back(), "[DONE]");
  EXPECT_GE(streamed.events.size(), 4u);  // three tokens, the finish chunk, [DONE]

  // Failover before the first token. A conversation alpha served first ([only:alpha]: beta, if
  // tried, answers 500)…
  // A long system message of its own: whole prefix blocks only this conversation has.
  const std::string system(300, 'S');
  const std::vector<std::string> turn1{"[only:alpha] first question"};
  auto first = Post("/v1/chat/completions", ChatBody("shared", turn1, false, system), "conv-1");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.Header("x-populi-node"), a);
  // …goes back to alpha for its next turn (prefix affinity), whose engine now answers 500:
  // beta serves it, and the client sees only beta's answer.
  std::vector<std::string> turn2 = turn1;
  turn2.insert(turn2.end(), {"hello from alpha", "[fail:alpha:500] and a follow-up"});
  auto second = Post("/v1/chat/completions", ChatBody("shared", turn2, false, system), "conv-2");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.Header("x-populi-node"), b);
  auto explained = Api().ExplainInference("conv-2");
  ASSERT_TRUE(explained.ok()) << explained.status().ToString();
  ASSERT_EQ(explained->attempts.size(), 2u);
  EXPECT_EQ(explained->attempts[0].node_id, a);
  EXPECT_GT(explained->attempts[0].matched_blocks, 0);
  EXPECT_EQ(explained->attempts[0].outcome, "failed");
  EXPECT_NE(explained->attempts[0].error.find("500"), std::string::npos);
  EXPECT_EQ(explained->attempts[1].node_id, b);
  EXPECT_EQ(explained->attempts[1].outcome, "done");
  EXPECT_EQ(explained->served_by, b);

  // After the first tokens the engine dies: the stream ends with an OpenAI error event.
  Streamed broken = Stream(ChatBody("only-b", {"[die-mid] tell me"}, true));
  EXPECT_EQ(broken.status, 200);
  EXPECT_EQ(broken.Text(), "hello from");
  ASSERT_FALSE(broken.events.empty());
  auto error = JsonOf(broken.events.back());
  ASSERT_TRUE(error.contains("error")) << broken.events.back();
  EXPECT_EQ(error.at("error").at("code"), "stream_interrupted");
  EXPECT_EQ(error.at("error").at("type"), "server_error");

  // A client that goes away after the first token cancels the engine's request.
  const int64_t aborted_before = EngineStat(beta, "aborted");
  Streamed dropped = Stream(ChatBody("only-b", {"[slow-stream] a long answer"}, true), 1);
  EXPECT_EQ(dropped.events.size(), 1u);
  EXPECT_TRUE(WaitFor([&] { return EngineStat(beta, "aborted") > aborted_before; }, 30'000))
      << "the engine kept streaming to nobody";

  // A client that goes away before the first token (its engine is slow to start) cancels the
  // engine's request too, long before the engine would have answered.
  const int64_t aborted_early = EngineStat(beta, "aborted");
  {
    client::HttpClient impatient(url());
    auto gave_up = impatient.SendRaw("POST", "/v1/chat/completions",
                                     ChatBody("only-b", {"[slow-first:120000] think hard"}, false),
                                     {{"x-request-id", "impatient-1"}}, 1'500);
    EXPECT_EQ(gave_up.status().code(), Code::kTimeout);
  }
  EXPECT_TRUE(WaitFor([&] { return EngineStat(beta, "aborted") > aborted_early; }, 30'000))
      << "the engine kept working for a client that had left";
  auto impatient = Api().ExplainInference("impatient-1");
  ASSERT_TRUE(impatient.ok()) << impatient.status().ToString();
  ASSERT_EQ(impatient->attempts.size(), 1u);
  EXPECT_EQ(impatient->attempts[0].outcome, "cancelled");
  EXPECT_EQ(impatient->state, "cancelled");

  // Embeddings go through as well.
  auto emb = Post("/v1/embeddings", R"({"model":"only-a","input":"x"})");
  ASSERT_EQ(emb.status, 200) << emb.body;
  EXPECT_EQ(emb.Header("x-populi-node"), a);

  // OpenAI-shaped errors with our request id.
  auto unknown = Post("/v1/chat/completions", ChatBody("no-such-model", {"hi"}, false), "rq-404");
  EXPECT_EQ(unknown.status, 404);
  auto err = JsonOf(unknown.body).at("error");
  EXPECT_EQ(err.at("code"), "model_not_found");
  EXPECT_EQ(err.at("type"), "invalid_request_error");
  EXPECT_EQ(err.at("request_id"), "rq-404");
  auto bad = Post("/v1/completions", R"({"prompt":"no model"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(JsonOf(bad.body).at("error").at("code"), "invalid_request");

  // Engine truth. A conversation alpha served…
  const std::string own_system(300, 'T');
  const std::vector<std::string> truth1{"[only:alpha] a question of its own"};
  auto warm =
      Post("/v1/chat/completions", ChatBody("shared", truth1, false, own_system), "truth-1");
  ASSERT_EQ(warm.status, 200) << warm.body;
  EXPECT_EQ(warm.Header("x-populi-node"), a);
  // …then alpha's engine has every slot busy with requests that never came through the front
  // door. Its agent reads GET /slots and heartbeats the load; `explain` of a request only alpha
  // can serve shows it once the front door routes by it.
  client::HttpClient alpha_http(alpha);
  auto pin = alpha_http.SendRaw("POST", "/debug/busy", R"({"busy":4})", {}, 5'000);
  ASSERT_TRUE(pin.ok() && pin->status == 200);
  int probes = 0;
  std::optional<mesh::InferenceAttemptView> seen;
  auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  EXPECT_TRUE(WaitFor(
      [&] {
        // One request per 250 ms: the load arrives within a heartbeat or two.
        if (std::chrono::steady_clock::now() - last < std::chrono::milliseconds(250)) return false;
        last = std::chrono::steady_clock::now();
        const std::string id = "truth-probe-" + std::to_string(++probes);
        auto r = Post("/v1/embeddings", R"({"model":"only-a","input":"x"})", id);
        auto e = Api().ExplainInference(id);
        if (r.status != 200 || !e.ok() || e->attempts.empty()) return false;
        seen = e->attempts[0];
        return seen->engine && seen->engine->busy == 4;
      },
      30'000))
      << "no engine load reached the front door after " << probes << " requests";
  ASSERT_TRUE(seen && seen->engine);
  EXPECT_EQ(seen->engine->endpoint, alpha);
  EXPECT_EQ(seen->engine->slots, 4);
  EXPECT_EQ(seen->load, 4);  // max(the front door's own in flight, the engine's 4 busy)
  // The conversation's next turn would follow alpha (prefix affinity); its engine is full, so
  // beta serves it.
  std::vector<std::string> truth2 = truth1;
  truth2.insert(truth2.end(), {"hello from alpha", "and a follow-up"});
  auto moved =
      Post("/v1/chat/completions", ChatBody("shared", truth2, false, own_system), "truth-2");
  ASSERT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(moved.Header("x-populi-node"), b);
  auto routed = Api().ExplainInference("truth-2");
  ASSERT_TRUE(routed.ok()) << routed.status().ToString();
  ASSERT_EQ(routed->attempts.size(), 1u);
  EXPECT_EQ(routed->attempts[0].node_id, b);
  EXPECT_EQ(routed->attempts[0].outcome, "done");

  // `vox populi chat` streams the answer to stdout.
  testing::VoxEnv env;
  env.cwd = root_.string();
  env.vars = BaseEnv((root_ / "cli-home").string());
  fs::create_directories(root_ / "cli");
  testing::VoxRun chat =
      testing::RunVoxWithin(env, {"populi", "chat", "-m", "only-b", "hi", "--control-url", url()},
                            (root_ / "cli").string());
  EXPECT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_EQ(chat.out, "hello from beta\n");
  EXPECT_NE(chat.err.find("served by node " + b), std::string::npos) << chat.err;
}

}  // namespace inference_e2e
}  // namespace populi::e2e
