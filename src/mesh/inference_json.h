// JSON codecs of the front door's wire types (mesh/inference.h) and the OpenAI shapes it reads
// and writes. Same contract as mesh/json.h: unknown fields ignored, a wrong type names the field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mesh/inference.h"
#include "util/status.h"

namespace populi::mesh {

boost::json::object ToJson(const InferenceJob& j);
Result<InferenceJob> InferenceJobFromJson(const boost::json::value& v);
boost::json::object ToJson(const InferenceChunk& c);
Result<InferenceChunk> InferenceChunkFromJson(const boost::json::value& v);
boost::json::object ToJson(const InferenceChunkReply& r);
Result<InferenceChunkReply> InferenceChunkReplyFromJson(const boost::json::value& v);
boost::json::object ToJson(const InferenceExplanation& e);
Result<InferenceExplanation> InferenceExplanationFromJson(const boost::json::value& v);

boost::json::object ToJson(const EngineLoad& l);
Result<EngineLoad> EngineLoadFromJson(const boost::json::value& v);
// The stored row: schema_version required and not newer than kEngineLoadSchemaVersion.
boost::json::object ToJson(const NodeEngineLoad& l);
Result<NodeEngineLoad> NodeEngineLoadFromJson(const boost::json::value& v);
// At most kMaxEngineLoads loads, each endpoint 1..kMaxModelIdBytes bytes of UTF-8 and listed
// once, busy, waiting and slots at most kMaxEngineCount. kInvalidArgument naming the field.
Status ValidateEngineLoads(const std::vector<EngineLoad>& loads);

// Limits of what an agent posts.
inline constexpr size_t kMaxChunkEvents = 4096;

// Reads an OpenAI request body of `route`: `model` (required, a non-empty string), `stream`
// (optional bool; always false for embeddings), and the conversation rendered for hashing:
// chat `messages` (role + text content, text parts of an array content), completions `prompt`
// (string or list of strings), embeddings `input` (string or list of strings). kInvalidArgument
// naming the field otherwise. Token arrays in a prompt are rendered as their numbers.
Result<OpenAiRequest> ParseOpenAiRequest(InferenceRoute route, std::string_view body);

// {"object":"list","data":[{"id","object":"model","created","owned_by","populi":{"nodes"}}]}.
std::string OpenAiModelList(const std::vector<OpenAiModel>& models);

// The OpenAI error body: {"error":{"message","type","param":null,"code","hint","request_id"}}.
std::string OpenAiErrorBody(std::string_view message, std::string_view type, std::string_view code,
                            std::string_view hint, std::string_view request_id);
// The same as one server-sent event ("data: {...}\n\n"): ends a stream after its first token.
std::string OpenAiErrorEvent(std::string_view message, std::string_view type, std::string_view code,
                             std::string_view request_id);

// A chat completion request of one user message (and an optional system message), for
// `vox populi chat`.
std::string OpenAiChatBody(std::string_view model, std::string_view system, std::string_view prompt,
                           bool stream);
// The error object's message when `data` (an event payload or a body) is an OpenAI error,
// else "".
std::string OpenAiErrorMessage(std::string_view data);

// The text of a streamed chat or completion chunk (choices[0].delta.content or .text), "" when
// none. For `vox populi chat`.
std::string OpenAiEventText(std::string_view data);
// The text of a whole (not streamed) chat or completion answer: choices[0].message.content or
// .text.
std::string OpenAiAnswerText(std::string_view body);

// The `usage` of a whole answer or of a streamed chunk (engines put it on the last one), when
// `data` carries one with at least one count.
std::optional<OpenAiUsage> OpenAiUsageOf(std::string_view data);

}  // namespace populi::mesh
