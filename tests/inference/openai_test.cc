// mesh/inference_json.h: what the front door reads of OpenAI requests, the shapes it writes, and
// the relay's codecs.
#include <gtest/gtest.h>

#include <string>

#include "mesh/inference_json.h"
#include "mesh/json.h"

namespace populi::mesh {
namespace {

TEST(OpenAiRequest, RendersTheWholeConversation) {
  auto r = ParseOpenAiRequest(InferenceRoute::kChatCompletions,
                              R"({"model":"m","stream":true,"messages":[
                                {"role":"system","content":"be brief"},
                                {"role":"user","content":[{"type":"text","text":"hi"}]}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "m");
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(r->rendered,
            "system\x1f"
            "be brief\x1euser\x1fhi\x1e");
  auto c = ParseOpenAiRequest(InferenceRoute::kCompletions, R"({"model":"m","prompt":["a","b"]})");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->stream);
  EXPECT_EQ(c->rendered,
            "a\x1e"
            "b\x1e");
  // Embeddings never stream.
  auto e =
      ParseOpenAiRequest(InferenceRoute::kEmbeddings, R"({"model":"m","input":"x","stream":true})");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->stream);
}

TEST(OpenAiRequest, BadRequestsNameTheField) {
  auto no_model = ParseOpenAiRequest(InferenceRoute::kChatCompletions, R"({"messages":[]})");
  EXPECT_EQ(no_model.status().code(), Code::kInvalidArgument);
  EXPECT_NE(no_model.status().message().find("model"), std::string::npos);
  auto no_messages = ParseOpenAiRequest(InferenceRoute::kChatCompletions, R"({"model":"m"})");
  EXPECT_NE(no_messages.status().message().find("messages"), std::string::npos);
  auto bad_stream =
      ParseOpenAiRequest(InferenceRoute::kCompletions, R"({"model":"m","prompt":"x","stream":1})");
  EXPECT_NE(bad_stream.status().message().find("stream"), std::string::npos);
  EXPECT_FALSE(ParseOpenAiRequest(InferenceRoute::kCompletions, "not json").ok());
  EXPECT_FALSE(ParseOpenAiRequest(InferenceRoute::kEmbeddings, R"({"model":"m","input":{}})").ok());
}

TEST(OpenAiShapes, ErrorBodyModelListAndEventText) {
  auto err =
      ParseJson(OpenAiErrorBody("no node", "server_error", "no_node_available", "hint", "rq"));
  ASSERT_TRUE(err.ok());
  const auto& e = err->as_object().at("error").as_object();
  EXPECT_EQ(e.at("message"), "no node");
  EXPECT_EQ(e.at("type"), "server_error");
  EXPECT_EQ(e.at("code"), "no_node_available");
  EXPECT_EQ(e.at("request_id"), "rq");
  EXPECT_TRUE(e.at("param").is_null());
  const std::string event = OpenAiErrorEvent("broke", "server_error", "stream_interrupted", "rq");
  EXPECT_EQ(event.rfind("data: {\"error\":", 0), 0u);
  EXPECT_EQ(event.substr(event.size() - 2), "\n\n");
  auto list = ParseJson(OpenAiModelList({{"llama", "populi", 5, 2}}));
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->as_object().at("object"), "list");
  const auto& m = list->as_object().at("data").as_array().at(0).as_object();
  EXPECT_EQ(m.at("id"), "llama");
  EXPECT_EQ(m.at("object"), "model");
  EXPECT_EQ(OpenAiEventText(R"({"choices":[{"delta":{"content":"tok"}}]})"), "tok");
  EXPECT_EQ(OpenAiEventText(R"({"choices":[{"text":"t2"}]})"), "t2");
  EXPECT_EQ(OpenAiEventText("garbage"), "");
  EXPECT_EQ(OpenAiAnswerText(R"({"choices":[{"message":{"content":"all"}}]})"), "all");
}

TEST(OpenAiShapes, UsageOfAnAnswerOrAChunk) {
  auto whole = OpenAiUsageOf(
      R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}})");
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->input_tokens, 12);
  EXPECT_EQ(whole->output_tokens, 3);
  auto partial = OpenAiUsageOf(R"({"usage":{"prompt_tokens":7}})");  // embeddings say only this
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(partial->input_tokens, 7);
  EXPECT_EQ(partial->output_tokens, -1);
  EXPECT_FALSE(OpenAiUsageOf(R"({"choices":[{"delta":{"content":"tok"}}]})").has_value());
  EXPECT_FALSE(OpenAiUsageOf(R"({"usage":null})").has_value());
  EXPECT_FALSE(
      OpenAiUsageOf(R"({"usage":{"prompt_tokens":"12","completion_tokens":-1}})").has_value());
  EXPECT_FALSE(OpenAiUsageOf("not json \"usage\"").has_value());
}

TEST(RelayCodecs, RoundTrip) {
  InferenceJob j{"r.1",      "r", "node-a", InferenceRoute::kEmbeddings,
                 "http://e", "m", false,    R"({"model":"m"})",
                 77};
  auto j2 = InferenceJobFromJson(ToJson(j));
  ASSERT_TRUE(j2.ok()) << j2.status().ToString();
  EXPECT_EQ(j2->route, InferenceRoute::kEmbeddings);
  EXPECT_EQ(j2->body, j.body);
  EXPECT_EQ(j2->deadline_ms, 77);
  InferenceChunk c{"r.1", 3, 200, {"a", "b"}, true, "why"};
  auto c2 = InferenceChunkFromJson(ToJson(c));
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->events, c.events);
  EXPECT_EQ(c2->error, "why");
  EXPECT_TRUE(c2->done);
  auto bad = InferenceChunkFromJson(ParseJson(R"({"job_id":"x","seq":0,"status":42})").value());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  InferenceExplanation e{"r", "m", "chat/completions", true, 3, "n", "done", {}};
  e.attempts.push_back({"n", true, 2, 1, 3, 4, "done", "", 9, {{"m", "never_polled"}}});
  auto e2 = InferenceExplanationFromJson(ToJson(e));
  ASSERT_TRUE(e2.ok());
  ASSERT_EQ(e2->attempts.size(), 1u);
  EXPECT_EQ(e2->attempts[0].matched_blocks, 2);
  ASSERT_EQ(e2->attempts[0].skipped.size(), 1u);
  EXPECT_EQ(e2->attempts[0].skipped[0].node_id, "m");
  EXPECT_EQ(e2->attempts[0].skipped[0].reason, "never_polled");
  EXPECT_EQ(e2->served_by, "n");
}

}  // namespace
}  // namespace populi::mesh
