#include "mesh/inference_json.h"

#include <limits>

#include "mesh/json.h"
#include "mesh/json_internal.h"
#include "mesh/models_json.h"
#include "mesh/validate.h"

namespace populi::mesh {

using namespace json_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr std::string_view kInferenceHint = "see docs/inference.md for the relay's fields";

ReadOptions RelayOptions() {
  return ReadOptions{std::string(kInferenceHint)};
}

// Appends the text of a chat message's content: a string, or the text of an array of parts.
void RenderContent(const json::value& content, std::string& out) {
  if (const auto* s = content.if_string()) {
    out.append(s->data(), s->size());
  } else if (const auto* parts = content.if_array()) {
    for (const auto& part : *parts) {
      const auto* o = part.if_object();
      if (o == nullptr) continue;
      if (const auto* t = o->if_contains("text"); t != nullptr && t->is_string())
        out.append(t->get_string().data(), t->get_string().size());
    }
  }
}

// A prompt / input: a string, a list of strings, or token arrays (rendered as numbers).
Status RenderPrompt(const json::value& v, std::string_view field, std::string& out) {
  if (const auto* s = v.if_string()) {
    out.append(s->data(), s->size());
    return Status::Ok();
  }
  const auto* list = v.if_array();
  if (list == nullptr) {
    return InvalidArgument(std::string(field) + ": expected a string or a list",
                           "send the text as a string or a list of strings");
  }
  for (const auto& item : *list) {
    if (item.is_string()) {
      out.append(item.get_string().data(), item.get_string().size());
    } else if (item.is_int64() || item.is_uint64() || item.is_array()) {
      out += json::serialize(item);
    } else {
      return InvalidArgument(std::string(field) + ": expected strings or token lists",
                             "send the text as a string or a list of strings");
    }
    out += '\x1e';
  }
  return Status::Ok();
}

Status RenderMessages(const json::object& body, std::string& out) {
  const auto* messages = body.if_contains("messages");
  if (messages == nullptr || !messages->is_array() || messages->get_array().empty()) {
    return InvalidArgument("messages: expected a non-empty list of messages",
                           "send {\"model\":…,\"messages\":[{\"role\":\"user\",\"content\":…}]}");
  }
  for (const auto& m : messages->get_array()) {
    const auto* o = m.if_object();
    if (o == nullptr)
      return InvalidArgument("messages: expected objects", "each message is {role, content}");
    if (const auto* role = o->if_contains("role"); role != nullptr && role->is_string())
      out.append(role->get_string().data(), role->get_string().size());
    out += '\x1f';
    if (const auto* content = o->if_contains("content")) RenderContent(*content, out);
    out += '\x1e';
  }
  return Status::Ok();
}

const json::value* FirstChoice(const json::value& v) {
  const auto* o = v.if_object();
  if (o == nullptr) return nullptr;
  const auto* choices = o->if_contains("choices");
  if (choices == nullptr || !choices->is_array() || choices->get_array().empty()) return nullptr;
  return &choices->get_array().front();
}

std::string StringAt(const json::value* v, std::string_view outer, std::string_view inner) {
  if (v == nullptr || !v->is_object()) return "";
  const json::object& o = v->get_object();
  if (!outer.empty()) {
    const auto* nested = o.if_contains(outer);
    if (nested == nullptr || !nested->is_object()) return "";
    const auto* s = nested->get_object().if_contains(inner);
    return s != nullptr && s->is_string() ? std::string(s->get_string()) : "";
  }
  const auto* s = o.if_contains(inner);
  return s != nullptr && s->is_string() ? std::string(s->get_string()) : "";
}

}  // namespace

std::string_view ToString(InferenceRoute r) {
  switch (r) {
    case InferenceRoute::kChatCompletions:
      return "chat/completions";
    case InferenceRoute::kCompletions:
      return "completions";
    case InferenceRoute::kEmbeddings:
      return "embeddings";
  }
  return "chat/completions";
}

Result<InferenceRoute> ParseInferenceRoute(std::string_view s) {
  if (s == "chat/completions") return InferenceRoute::kChatCompletions;
  if (s == "completions") return InferenceRoute::kCompletions;
  if (s == "embeddings") return InferenceRoute::kEmbeddings;
  return InvalidArgument("route: unknown route \"" + std::string(s) + "\"",
                         "one of chat/completions, completions, embeddings");
}

json::object ToJson(const InferenceJob& j) {
  return {{"id", j.id},
          {"request_id", j.request_id},
          {"node_id", j.node_id},
          {"route", ToString(j.route)},
          {"endpoint", j.endpoint},
          {"model", j.model},
          {"stream", j.stream},
          {"body", j.body},
          {"deadline_ms", j.deadline_ms}};
}

Result<InferenceJob> InferenceJobFromJson(const json::value& v) {
  Reader r(v, "", RelayOptions());
  InferenceJob j;
  r.Str("id", j.id, true);
  r.Str("request_id", j.request_id);
  r.Str("node_id", j.node_id, true);
  r.Enum("route", j.route, ParseInferenceRoute, true);
  r.Str("endpoint", j.endpoint, true);
  r.Str("model", j.model);
  r.Bool("stream", j.stream);
  r.Str("body", j.body, true);
  r.Int("deadline_ms", j.deadline_ms);
  if (!r.ok()) return r.status();
  return j;
}

json::object ToJson(const InferenceChunk& c) {
  json::object o{{"job_id", c.job_id}, {"seq", c.seq}, {"status", c.status}, {"done", c.done}};
  json::array events;
  for (const auto& e : c.events) events.emplace_back(e);
  o["events"] = std::move(events);
  if (!c.error.empty()) o["error"] = c.error;
  return o;
}

Result<InferenceChunk> InferenceChunkFromJson(const json::value& v) {
  Reader r(v, "", RelayOptions());
  InferenceChunk c;
  r.Str("job_id", c.job_id, true);
  r.Int("seq", c.seq, 0, std::numeric_limits<int64_t>::max(), true);
  r.Num("status", c.status);
  r.Strings("events", c.events);
  r.Bool("done", c.done);
  r.Str("error", c.error);
  if (!r.ok()) return r.status();
  if (c.events.size() > kMaxChunkEvents) {
    return Status(Code::kTooLarge,
                  "events: at most " + std::to_string(kMaxChunkEvents) + " per chunk",
                  "post the engine's events in several chunks");
  }
  if (c.status != 0 && (c.status < 100 || c.status > 599)) {
    return InvalidArgument("status: expected 0 or an HTTP status", std::string(kInferenceHint));
  }
  return c;
}

json::object ToJson(const InferenceChunkReply& r) {
  return {{"cancel", r.cancel}};
}

Result<InferenceChunkReply> InferenceChunkReplyFromJson(const json::value& v) {
  Reader r(v, "", RelayOptions());
  InferenceChunkReply reply;
  r.Bool("cancel", reply.cancel);
  if (!r.ok()) return r.status();
  return reply;
}

json::object ToJson(const EngineLoad& l) {
  json::object o{{"endpoint", l.endpoint}, {"busy", l.busy}, {"observed_ms", l.observed_ms}};
  if (l.waiting >= 0) o["waiting"] = l.waiting;
  if (l.slots >= 0) o["slots"] = l.slots;
  return o;
}

Result<EngineLoad> EngineLoadFromJson(const json::value& v) {
  Reader r(v, "", RelayOptions());
  EngineLoad l;
  r.Str("endpoint", l.endpoint, true);
  r.Int("busy", l.busy, 0, kMaxEngineCount, true);
  r.Int("waiting", l.waiting, 0, kMaxEngineCount);
  r.Int("slots", l.slots, 0, kMaxEngineCount);
  r.Int("observed_ms", l.observed_ms);
  if (!r.ok()) return r.status();
  return l;
}

json::object ToJson(const NodeEngineLoad& l) {
  json::array engines;
  for (const auto& e : l.engines) engines.emplace_back(ToJson(e));
  return {{"schema_version", l.schema_version},
          {"node_id", l.node_id},
          {"engines", std::move(engines)},
          {"received_ms", l.received_ms},
          {"fresh_until_ms", l.fresh_until_ms}};
}

Result<NodeEngineLoad> NodeEngineLoadFromJson(const json::value& v) {
  Reader r(v, "", RelayOptions());
  NodeEngineLoad l;
  int64_t version = 0;
  r.Int("schema_version", version, 1, std::numeric_limits<int32_t>::max(), true);
  if (r.ok() && version > kEngineLoadSchemaVersion) {
    return InvalidArgument("schema_version: " + std::to_string(version) +
                               " is newer than this binary reads (" +
                               std::to_string(kEngineLoadSchemaVersion) + ")",
                           "run the same vox version on every control plane");
  }
  l.schema_version = static_cast<int>(version);
  r.Str("node_id", l.node_id, true);
  RequiredList(r, "engines", l.engines, Element(EngineLoadFromJson));
  r.Int("received_ms", l.received_ms);
  r.Int("fresh_until_ms", l.fresh_until_ms);
  if (!r.ok()) return r.status();
  if (Status s = ValidateEngineLoads(l.engines); !s.ok()) return s;
  return l;
}

Status ValidateEngineLoads(const std::vector<EngineLoad>& loads) {
  const std::string hint(kInferenceHint);
  if (loads.size() > kMaxEngineLoads) {
    return InvalidArgument("engine_load: " + std::to_string(loads.size()) + " engines, at most " +
                               std::to_string(kMaxEngineLoads),
                           "configure fewer [mesh.inference] endpoints");
  }
  for (size_t i = 0; i < loads.size(); ++i) {
    const EngineLoad& l = loads[i];
    const std::string at = "engine_load[" + std::to_string(i) + "]";
    if (l.endpoint.empty() || l.endpoint.size() > kMaxModelIdBytes || !IsValidUtf8(l.endpoint)) {
      return InvalidArgument(
          at + ".endpoint: expected 1.." + std::to_string(kMaxModelIdBytes) + " bytes of UTF-8",
          hint);
    }
    for (size_t j = 0; j < i; ++j) {
      if (loads[j].endpoint == l.endpoint)
        return InvalidArgument(at + ".endpoint: \"" + l.endpoint + "\" is listed twice", hint);
    }
    if (l.busy < 0 || l.busy > kMaxEngineCount || l.waiting < -1 || l.waiting > kMaxEngineCount ||
        l.slots < -1 || l.slots > kMaxEngineCount) {
      return InvalidArgument(
          at + ": busy, waiting and slots must lie in 0.." + std::to_string(kMaxEngineCount), hint);
    }
  }
  return Status::Ok();
}

namespace {

json::object AttemptToJson(const InferenceAttemptView& a) {
  json::object o{
      {"node_id", a.node_id},     {"loaded", a.loaded},     {"matched_blocks", a.matched_blocks},
      {"in_flight", a.in_flight}, {"load_cap", a.load_cap}, {"candidates", a.candidates},
      {"load", a.load},           {"outcome", a.outcome},   {"started_ms", a.started_ms}};
  if (a.engine) o["engine"] = ToJson(*a.engine);
  if (!a.error.empty()) o["error"] = a.error;
  if (!a.skipped.empty()) {
    json::array skipped;
    for (const auto& k : a.skipped)
      skipped.emplace_back(json::object{{"node_id", k.node_id}, {"reason", k.reason}});
    o["skipped"] = std::move(skipped);
  }
  return o;
}

Result<InferenceSkip> SkipFromJson(const json::value& v) {
  Reader r(v, "", RelayOptions());
  InferenceSkip k;
  r.Str("node_id", k.node_id, true);
  r.Str("reason", k.reason);
  if (!r.ok()) return r.status();
  return k;
}

Result<InferenceAttemptView> AttemptFromJson(const json::value& v) {
  Reader r(v, "", RelayOptions());
  InferenceAttemptView a;
  r.Str("node_id", a.node_id, true);
  r.Bool("loaded", a.loaded);
  r.Int("matched_blocks", a.matched_blocks);
  r.Int("in_flight", a.in_flight);
  r.Int("load_cap", a.load_cap);
  r.Int("candidates", a.candidates);
  r.Int("load", a.load);
  if (const json::value* e = r.Object("engine")) {
    auto l = EngineLoadFromJson(*e);
    if (!l.ok()) return AtPath(l.status(), "engine");
    a.engine = std::move(*l);
  }
  r.Str("outcome", a.outcome);
  r.Str("error", a.error);
  r.Int("started_ms", a.started_ms);
  r.List("skipped", a.skipped, Element(SkipFromJson));
  if (!r.ok()) return r.status();
  return a;
}

}  // namespace

json::object ToJson(const InferenceExplanation& e) {
  json::array attempts;
  for (const auto& a : e.attempts) attempts.emplace_back(AttemptToJson(a));
  return {{"request_id", e.request_id}, {"model", e.model},
          {"route", e.route},           {"stream", e.stream},
          {"blocks", e.blocks},         {"served_by", e.served_by},
          {"state", e.state},           {"attempts", std::move(attempts)}};
}

Result<InferenceExplanation> InferenceExplanationFromJson(const json::value& v) {
  Reader r(v, "", RelayOptions());
  InferenceExplanation e;
  r.Str("request_id", e.request_id, true);
  r.Str("model", e.model);
  r.Str("route", e.route);
  r.Bool("stream", e.stream);
  r.Int("blocks", e.blocks);
  r.Str("served_by", e.served_by);
  r.Str("state", e.state);
  r.List("attempts", e.attempts, Element(AttemptFromJson));
  if (!r.ok()) return r.status();
  return e;
}

Result<OpenAiRequest> ParseOpenAiRequest(InferenceRoute route, std::string_view body) {
  POPULI_ASSIGN_OR_RETURN(json::value v, ParseJson(body));
  const auto* o = v.if_object();
  if (o == nullptr) {
    return InvalidArgument("body: expected a JSON object", "see the OpenAI API reference");
  }
  OpenAiRequest req;
  const auto* model = o->if_contains("model");
  if (model == nullptr || !model->is_string() || model->get_string().empty()) {
    return InvalidArgument("model: expected the name of a model",
                           "GET /v1/models lists the models the mesh serves");
  }
  req.model = std::string(model->get_string());
  if (const auto* stream = o->if_contains("stream"); stream != nullptr && !stream->is_null()) {
    if (!stream->is_bool()) return InvalidArgument("stream: expected true or false", "");
    req.stream = stream->get_bool() && route != InferenceRoute::kEmbeddings;
  }
  switch (route) {
    case InferenceRoute::kChatCompletions:
      POPULI_RETURN_IF_ERROR(RenderMessages(*o, req.rendered));
      break;
    case InferenceRoute::kCompletions:
    case InferenceRoute::kEmbeddings: {
      const char* field = route == InferenceRoute::kCompletions ? "prompt" : "input";
      const auto* p = o->if_contains(field);
      if (p == nullptr) {
        return InvalidArgument(std::string(field) + ": required",
                               "see the OpenAI API reference for this route");
      }
      POPULI_RETURN_IF_ERROR(RenderPrompt(*p, field, req.rendered));
      break;
    }
  }
  return req;
}

std::string OpenAiModelList(const std::vector<OpenAiModel>& models) {
  json::array data;
  for (const auto& m : models) {
    data.emplace_back(json::object{{"id", m.id},
                                   {"object", "model"},
                                   {"created", m.created},
                                   {"owned_by", m.owned_by},
                                   {"populi", json::object{{"nodes", m.nodes}}}});
  }
  return Serialize(json::object{{"object", "list"}, {"data", std::move(data)}});
}

namespace {
json::object ErrorObject(std::string_view message, std::string_view type, std::string_view code,
                         std::string_view hint, std::string_view request_id) {
  json::object e{{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}};
  if (!hint.empty()) e["hint"] = hint;
  e["request_id"] = request_id;
  return json::object{{"error", std::move(e)}};
}
}  // namespace

std::string OpenAiErrorBody(std::string_view message, std::string_view type, std::string_view code,
                            std::string_view hint, std::string_view request_id) {
  return Serialize(ErrorObject(message, type, code, hint, request_id));
}

std::string OpenAiErrorEvent(std::string_view message, std::string_view type, std::string_view code,
                             std::string_view request_id) {
  return "data: " + Serialize(ErrorObject(message, type, code, "", request_id)) + "\n\n";
}

std::string OpenAiChatBody(std::string_view model, std::string_view system, std::string_view prompt,
                           bool stream) {
  json::array messages;
  if (!system.empty()) messages.emplace_back(json::object{{"role", "system"}, {"content", system}});
  messages.emplace_back(json::object{{"role", "user"}, {"content", prompt}});
  return Serialize(
      json::object{{"model", model}, {"messages", std::move(messages)}, {"stream", stream}});
}

std::string OpenAiErrorMessage(std::string_view data) {
  auto v = ParseJson(data);
  if (!v.ok() || !v->is_object()) return "";
  const auto* e = v->get_object().if_contains("error");
  if (e == nullptr) return "";
  if (e->is_string()) return std::string(e->get_string());
  std::string m = StringAt(e, "", "message");
  return m.empty() ? "error" : m;
}

std::string OpenAiEventText(std::string_view data) {
  auto v = ParseJson(data);
  if (!v.ok()) return "";
  const json::value* choice = FirstChoice(*v);
  std::string text = StringAt(choice, "delta", "content");
  return text.empty() ? StringAt(choice, "", "text") : text;
}

std::string OpenAiAnswerText(std::string_view body) {
  auto v = ParseJson(body);
  if (!v.ok()) return "";
  const json::value* choice = FirstChoice(*v);
  std::string text = StringAt(choice, "message", "content");
  return text.empty() ? StringAt(choice, "", "text") : text;
}

std::optional<OpenAiUsage> OpenAiUsageOf(std::string_view data) {
  // Most chunks carry no usage: skip parsing them.
  if (data.find("\"usage\"") == std::string_view::npos) return std::nullopt;
  auto v = ParseJson(data);
  if (!v.ok() || !v->is_object()) return std::nullopt;
  const auto* usage = v->get_object().if_contains("usage");
  if (usage == nullptr || !usage->is_object()) return std::nullopt;
  auto count = [&usage](const char* key) -> int64_t {
    const auto* n = usage->get_object().if_contains(key);
    return n != nullptr && n->is_int64() && n->get_int64() >= 0 ? n->get_int64() : -1;
  };
  OpenAiUsage u{count("prompt_tokens"), count("completion_tokens")};
  if (u.input_tokens < 0 && u.output_tokens < 0) return std::nullopt;
  return u;
}

}  // namespace populi::mesh
