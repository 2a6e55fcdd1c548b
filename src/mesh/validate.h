// Semantic validation of wire values: id syntax, closed vocabularies, W3C trace context, payload
// digest/signature shapes and size limits. Every failure is kInvalidArgument (kTooLarge for size
// limits) naming the field, with a one-line hint. docs/vocabulary.md lists every vocabulary.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "mesh/task.h"
#include "mesh/types.h"
#include "util/status.h"

namespace populi::mesh {

// Size limits (bytes) enforced by ValidateNewMessage / ValidateNodeRecord.
struct Limits {
  size_t max_payload_bytes = 256 * 1024;
  size_t max_jwe_bytes = 256 * 1024;
  size_t max_idempotency_key_bytes = 256;
  size_t max_model_id_bytes = 256;
  size_t max_scope_key_bytes = 2048;
  size_t max_labels = 64;
  size_t max_label_bytes = 256;  // each key and each value
  size_t max_gpus = 64;
};

// Message types a deliver may carry. Unknown → 400.
std::span<const std::string_view> MessageTypes();
// Task kinds (an empty task_kind means "none").
std::span<const std::string_view> TaskKinds();

// Priority meaning (0..255, higher is served first; ties oldest first):
//   0..63 background, 64..127 low, 128 normal (the default), 129..191 high, 192..254 urgent,
//   255 control (cancels and acknowledgements that must overtake queued work).
std::string_view PriorityBand(uint8_t priority);

// Well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Ids: 1..128 characters of [A-Za-z0-9._:-].
Status ValidateId(std::string_view field, std::string_view value);
Status ValidateMessageType(std::string_view value);
Status ValidateTaskKind(std::string_view value);  // empty is allowed
// W3C traceparent, version 00: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>",
// lowercase, trace and parent ids not all zero. Empty is allowed.
Status ValidateTraceparent(std::string_view value);
// 64 lowercase hex characters (BLAKE3-256 of the payload); empty allowed.
Status ValidatePayloadDigest(std::string_view value);
// Standard base64 of a 64-byte Ed25519 signature (88 characters with padding); empty allowed.
// A signature needs a digest: both or neither.
Status ValidateSignatureShape(std::string_view digest_hex, std::string_view signature_b64);
// Exec lease scope keys: 1..max_scope_key_bytes bytes of valid UTF-8 without control characters.
Status ValidateScopeKey(std::string_view value, const Limits& limits = {});
// 32 lowercase hex characters.
Status ValidateLeaseId(std::string_view value);

// Whole records, as received from a client.
Status ValidateNewMessage(const NewMessage& msg, const Limits& limits = {});
Status ValidateNodeRecord(const NodeRecord& node, const Limits& limits = {});

// A task as submitted (docs/tasks.md). kind must be "exec" (the other kinds are refused as not
// available yet); command 1..4096 bytes; at most 1024 args of 64 KiB each; at most 256 env
// entries named [A-Za-z_][A-Za-z0-9_]* with values of 64 KiB each; no NUL bytes in anything that
// reaches exec; client_key, submitter_node_id, node_allow/node_deny entries and secret_names
// (at most 64) are ids; max_attempts 1..20; timeout_ms 0..7 days; gpus at most limits.max_gpus,
// and gpu_memory_bytes needs gpus >= 1; labels as for nodes; traceparent as for messages.
Status ValidateTaskSpec(const TaskSpec& spec, const Limits& limits = {});

}  // namespace populi::mesh
