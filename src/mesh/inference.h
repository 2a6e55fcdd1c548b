// The OpenAI-compatible front door on the wire (docs/inference.md): the job a control plane
// hands a node's agent, the chunks the agent posts back as its engine answers, the routing
// decision kept for `explain`, and the few OpenAI shapes the control plane reads or writes
// (the request's model / stream / conversation, the model list, the error body). Pure data;
// the codecs are in mesh/inference_json.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace populi::mesh {

// Which OpenAI route a request came in on; the agent calls the same route of its engine.
enum class InferenceRoute { kChatCompletions, kCompletions, kEmbeddings };
std::string_view ToString(InferenceRoute r);  // "chat/completions", "completions", "embeddings"
Result<InferenceRoute> ParseInferenceRoute(std::string_view s);

// One attempt of a front-door request at one node, as its agent picks it up.
struct InferenceJob {
  std::string id;          // "<request id>.<attempt>"; chunks name it
  std::string request_id;  // the front-door request (explain, logs)
  std::string node_id;
  InferenceRoute route = InferenceRoute::kChatCompletions;
  std::string endpoint;  // the engine's base URL on the node (one of its configured endpoints)
  std::string model;
  bool stream = false;
  std::string body;         // the client's request body, as sent
  int64_t deadline_ms = 0;  // Unix ms; the agent gives up (and says so) after it
};

// What an agent posts as its engine answers. The first chunk of a job carries the engine's HTTP
// status (0: no answer at all, `error` says why); `events` are the data payloads of the engine's
// server-sent events in order (stream), or its whole response body (not stream, and any non-2xx
// answer). `done`: the engine's answer is complete (or ended early: `error` says why).
struct InferenceChunk {
  std::string job_id;
  int64_t seq = 0;  // 0, 1, 2… per job; a repeated seq is ignored
  int status = 0;
  std::vector<std::string> events;
  bool done = false;
  std::string error;
};

// The control plane's answer to a chunk: `cancel` when nobody waits for the answer any more
// (the client went away, another node serves the request): the agent ends the engine request.
struct InferenceChunkReply {
  bool cancel = false;
};

// One engine's own account of its load (docs/inference.md, "Engine truth"), read by the node's
// agent: llama-server's GET /slots, vLLM's GET /metrics. It counts every request the engine
// runs, those that did not come through this front door too. -1: the engine does not say.
struct EngineLoad {
  std::string endpoint;     // the engine's base URL, as the node's inventory names it
  int64_t busy = 0;         // requests the engine is running
  int64_t waiting = -1;     // requests it has queued
  int64_t slots = -1;       // how many it runs at once
  int64_t observed_ms = 0;  // the agent's clock when read

  bool operator==(const EngineLoad&) const = default;
  // All of its slots are taken (only known when the engine says how many it has).
  bool Full() const { return slots > 0 && busy >= slots; }
  // What the router counts against the node: running plus queued.
  int64_t Load() const { return busy + (waiting > 0 ? waiting : 0); }
};

// Most engine loads one heartbeat carries (one per configured endpoint).
inline constexpr size_t kMaxEngineLoads = 16;
inline constexpr int64_t kMaxEngineCount = 1'000'000;  // busy, waiting, slots
inline constexpr int kEngineLoadSchemaVersion = 1;

// What the store keeps of a node's engine loads (kv "inference.load" / node id), written by the
// control plane that took the heartbeat carrying them, read by every replica on the store.
struct NodeEngineLoad {
  int schema_version = kEngineLoadSchemaVersion;
  std::string node_id;
  std::vector<EngineLoad> engines;
  int64_t received_ms = 0;     // control-plane clock: the heartbeat that carried it
  int64_t fresh_until_ms = 0;  // not used for routing after this (control-plane clock)
};

// One attempt of a request as `explain` shows it.
// A candidate an attempt left out because its agent does not poll the control plane that routed
// the request (docs/inference.md, "Relay"): reason never_polled (not since that control plane
// started) or stopped_polling (it did, not lately).
struct InferenceSkip {
  std::string node_id;
  std::string reason;
};

struct InferenceAttemptView {
  std::string node_id;
  bool loaded = false;         // the node's engine had the model loaded (else: on disk)
  int64_t matched_blocks = 0;  // conversation blocks this node served before
  int64_t in_flight = 0;       // the node's requests in flight when it was chosen
  int64_t load_cap = 0;        // the most load a candidate could have to be chosen
  int64_t candidates = 0;      // eligible nodes at that moment
  std::string outcome;         // pending | streaming | done | failed | cancelled
  std::string error;           // why it failed
  int64_t started_ms = 0;
  std::vector<InferenceSkip> skipped;  // candidates not polling this control plane, left out
  int64_t load = 0;  // the node's load as routed: max(in_flight, its engine's busy + waiting)
  std::optional<EngineLoad> engine;  // its engine's own report, when one was fresh
};

// GET /v1/populi/inference/{request_id}: how the front door routed one request.
struct InferenceExplanation {
  std::string request_id;
  std::string model;
  std::string route;
  bool stream = false;
  int64_t blocks = 0;     // blocks of the rendered conversation
  std::string served_by;  // the node whose answer the client got ("" until a first token)
  std::string state;      // waiting | streaming | done | failed | cancelled
  std::vector<InferenceAttemptView> attempts;
};

// Token counts an engine reported for one answer (OpenAI `usage`): -1 where it said nothing.
struct OpenAiUsage {
  int64_t input_tokens = -1;   // usage.prompt_tokens
  int64_t output_tokens = -1;  // usage.completion_tokens
};

// What the front door reads of an OpenAI request: the model, stream, and the whole conversation
// rendered as text (every message's role and content in order; the prompt; the input) — what
// the routing's prefix blocks are hashed from.
struct OpenAiRequest {
  std::string model;
  bool stream = false;
  std::string rendered;
};

// One model of GET /v1/models.
struct OpenAiModel {
  std::string id;
  std::string owned_by;  // "populi"
  int64_t created = 0;   // Unix seconds
  int64_t nodes = 0;     // how many nodes serve it (our addition)
};

}  // namespace populi::mesh
