#include "mesh/validate.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

namespace populi::mesh {
namespace {

constexpr std::array<std::string_view, 15> kMessageTypes{
    "task_submit", "task_result",  "task_cancel",  "task_ack",     "task_progress",
    "task_log",    "job_submit",   "job_result",   "job_fail",     "agent_message",
    "model_load",  "model_unload", "secret_share", "control_ping", "secret_request"};

constexpr std::array<std::string_view, 7> kTaskKinds{
    "text_infer", "image_gen", "speech_transcribe", "train_qlora", "embed", "exec", "vox_script"};

std::string Join(std::span<const std::string_view> items) {
  std::string out;
  for (std::string_view s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

bool IsBase64Char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

Status TooLarge(std::string_view field, size_t size, size_t limit) {
  return {Code::kTooLarge,
          std::string(field) + " is " + std::to_string(size) + " bytes; the limit is " +
              std::to_string(limit),
          "send large data out of band and reference it"};
}

Status Utf8(std::string_view field, std::string_view value) {
  if (IsValidUtf8(value)) return Status::Ok();
  return InvalidArgument(std::string(field) + " is not valid UTF-8", "send UTF-8 text");
}

}  // namespace

std::span<const std::string_view> MessageTypes() {
  return kMessageTypes;
}
std::span<const std::string_view> TaskKinds() {
  return kTaskKinds;
}

std::string_view PriorityBand(uint8_t p) {
  if (p == 255) return "control";
  if (p >= 192) return "urgent";
  if (p >= 129) return "high";
  if (p == 128) return "normal";
  if (p >= 64) return "low";
  return "background";
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Status ValidateId(std::string_view field, std::string_view value) {
  if (value.empty() || value.size() > 128 || !std::all_of(value.begin(), value.end(), IsIdChar)) {
    return InvalidArgument(std::string(field) + " must be 1..128 characters of [A-Za-z0-9._:-]",
                           "pick an id such as 'node-1' or 'box.example:gpu0'");
  }
  return Status::Ok();
}

Status ValidateMessageType(std::string_view value) {
  if (std::find(kMessageTypes.begin(), kMessageTypes.end(), value) != kMessageTypes.end())
    return Status::Ok();
  return InvalidArgument("unknown message_type '" + std::string(value.substr(0, 64)) + "'",
                         "use one of: " + Join(kMessageTypes));
}

Status ValidateTaskKind(std::string_view value) {
  if (value.empty() || std::find(kTaskKinds.begin(), kTaskKinds.end(), value) != kTaskKinds.end())
    return Status::Ok();
  return InvalidArgument("unknown task_kind '" + std::string(value.substr(0, 64)) + "'",
                         "use one of: " + Join(kTaskKinds));
}

Status ValidateTraceparent(std::string_view v) {
  if (v.empty()) return Status::Ok();
  const bool shape = v.size() == 55 && v[2] == '-' && v[35] == '-' && v[52] == '-' &&
                     v.substr(0, 2) == "00" && IsLowerHex(v.substr(3, 32)) &&
                     IsLowerHex(v.substr(36, 16)) && IsLowerHex(v.substr(53, 2));
  if (!shape || AllZero(v.substr(3, 32)) || AllZero(v.substr(36, 16))) {
    return InvalidArgument("traceparent is not a W3C version-00 trace context",
                           "use 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>, lowercase");
  }
  return Status::Ok();
}

Status ValidatePayloadDigest(std::string_view v) {
  if (v.empty() || (v.size() == 64 && IsLowerHex(v))) return Status::Ok();
  return InvalidArgument("payload_blake3_hex must be 64 lowercase hex characters",
                         "send the BLAKE3-256 digest of the payload bytes in hex");
}

Status ValidateSignatureShape(std::string_view digest_hex, std::string_view sig) {
  POPULI_RETURN_IF_ERROR(ValidatePayloadDigest(digest_hex));
  if (sig.empty()) return Status::Ok();
  if (digest_hex.empty()) {
    return InvalidArgument("signature_b64 needs payload_blake3_hex",
                           "send both the payload digest and its signature, or neither");
  }
  const bool shape = sig.size() == 88 && sig.substr(86) == "==" &&
                     std::all_of(sig.begin(), sig.begin() + 86, IsBase64Char);
  if (!shape) {
    return InvalidArgument("signature_b64 must be standard base64 of a 64-byte Ed25519 signature",
                           "88 characters ending in '=='");
  }
  return Status::Ok();
}

Status ValidateScopeKey(std::string_view v, const Limits& limits) {
  if (v.empty()) return InvalidArgument("scope_key is empty", "use a key such as 'task:<id>'");
  if (v.size() > limits.max_scope_key_bytes)
    return TooLarge("scope_key", v.size(), limits.max_scope_key_bytes);
  POPULI_RETURN_IF_ERROR(Utf8("scope_key", v));
  if (std::any_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return InvalidArgument("scope_key contains control characters", "use printable text");
  return Status::Ok();
}

Status ValidateLeaseId(std::string_view v) {
  if (v.size() == 32 && IsLowerHex(v)) return Status::Ok();
  return InvalidArgument("lease_id must be 32 lowercase hex characters",
                         "use the lease_id returned by /v1/populi/exec/lease/grant");
}

Status ValidateNewMessage(const NewMessage& m, const Limits& limits) {
  POPULI_RETURN_IF_ERROR(ValidateId("sender", m.sender));
  POPULI_RETURN_IF_ERROR(ValidateId("receiver", m.receiver));
  POPULI_RETURN_IF_ERROR(ValidateMessageType(m.message_type));
  POPULI_RETURN_IF_ERROR(ValidateTaskKind(m.task_kind));
  if (m.payload.size() > limits.max_payload_bytes)
    return TooLarge("payload", m.payload.size(), limits.max_payload_bytes);
  if (m.jwe_payload.size() > limits.max_jwe_bytes)
    return TooLarge("jwe_payload", m.jwe_payload.size(), limits.max_jwe_bytes);
  if (m.idempotency_key.size() > limits.max_idempotency_key_bytes)
    return TooLarge("idempotency_key", m.idempotency_key.size(), limits.max_idempotency_key_bytes);
  if (m.model_id.size() > limits.max_model_id_bytes)
    return TooLarge("model_id", m.model_id.size(), limits.max_model_id_bytes);
  POPULI_RETURN_IF_ERROR(Utf8("payload", m.payload));
  POPULI_RETURN_IF_ERROR(Utf8("idempotency_key", m.idempotency_key));
  POPULI_RETURN_IF_ERROR(Utf8("model_id", m.model_id));
  POPULI_RETURN_IF_ERROR(Utf8("jwe_payload", m.jwe_payload));
  POPULI_RETURN_IF_ERROR(ValidateTraceparent(m.traceparent));
  return ValidateSignatureShape(m.payload_blake3_hex, m.signature_b64);
}

Status ValidateNodeRecord(const NodeRecord& n, const Limits& limits) {
  POPULI_RETURN_IF_ERROR(ValidateId("id", n.id));
  if (!n.scope_id.empty()) POPULI_RETURN_IF_ERROR(ValidateId("scope_id", n.scope_id));
  if (n.labels.size() > limits.max_labels) {
    return {Code::kTooLarge, "too many labels (" + std::to_string(n.labels.size()) + ")",
            "use at most " + std::to_string(limits.max_labels) + " labels"};
  }
  for (const auto& [k, v] : n.labels) {
    if (k.empty() || k.size() > limits.max_label_bytes || v.size() > limits.max_label_bytes)
      return InvalidArgument("label keys must be 1.." + std::to_string(limits.max_label_bytes) +
                                 " bytes and values at most that",
                             "shorten the label");
    POPULI_RETURN_IF_ERROR(Utf8("labels", k));
    POPULI_RETURN_IF_ERROR(Utf8("labels", v));
  }
  if (n.gpus.size() > limits.max_gpus) {
    return {Code::kTooLarge, "too many gpus (" + std::to_string(n.gpus.size()) + ")",
            "report at most " + std::to_string(limits.max_gpus) + " devices"};
  }
  for (const std::string* s : {&n.version, &n.host, &n.ed25519_pub_key_b64, &n.cpu.model,
                               &n.x25519_pub_key_b64, &n.x25519_key_sig_b64}) {
    if (s->size() > 1024) return TooLarge("a node string field", s->size(), 1024);
    POPULI_RETURN_IF_ERROR(Utf8("node string field", *s));
  }
  if (n.running_tasks.size() > 4096) {
    return {Code::kTooLarge,
            "too many running_tasks (" + std::to_string(n.running_tasks.size()) + ")",
            "report at most 4096 running tasks"};
  }
  for (const auto& id : n.running_tasks) POPULI_RETURN_IF_ERROR(ValidateId("running_tasks", id));
  if (n.paired_with.size() > 1024) {
    return {Code::kTooLarge, "too many paired_with (" + std::to_string(n.paired_with.size()) + ")",
            "report at most 1024 paired nodes"};
  }
  for (const auto& id : n.paired_with) POPULI_RETURN_IF_ERROR(ValidateId("paired_with", id));
  return Status::Ok();
}

namespace {

constexpr size_t kMaxCommandBytes = 4096;
constexpr size_t kMaxArgs = 1024;
constexpr size_t kMaxArgBytes = 64 * 1024;
constexpr size_t kMaxEnvEntries = 256;
constexpr size_t kMaxEnvValueBytes = 64 * 1024;
constexpr size_t kMaxWorkingDirBytes = 4096;
constexpr size_t kMaxNodeListEntries = 1024;
constexpr size_t kMaxSecretNames = 64;
constexpr int32_t kMaxTaskAttempts = 20;
constexpr int64_t kMaxTaskTimeoutMs = int64_t{7} * 24 * 3600 * 1000;

Status TooMany(std::string_view field, size_t count, size_t limit) {
  return {Code::kTooLarge, "too many " + std::string(field) + " (" + std::to_string(count) + ")",
          "send at most " + std::to_string(limit)};
}

// Text that ends up in execve(): bounded, UTF-8, and without NUL bytes (C strings end there).
Status ExecText(const std::string& field, std::string_view value, size_t limit) {
  if (value.size() > limit) return TooLarge(field, value.size(), limit);
  POPULI_RETURN_IF_ERROR(Utf8(field, value));
  if (value.find('\0') != std::string_view::npos) {
    return InvalidArgument(field + " contains a NUL byte",
                           "process arguments and environment are C strings; remove it");
  }
  return Status::Ok();
}

bool IsEnvName(std::string_view name) {
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (name.empty() || !alpha(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

Status ValidateLabelMap(const std::string& field, const std::map<std::string, std::string>& labels,
                        const Limits& limits) {
  if (labels.size() > limits.max_labels) return TooMany(field, labels.size(), limits.max_labels);
  for (const auto& [k, v] : labels) {
    if (k.empty() || k.size() > limits.max_label_bytes || v.size() > limits.max_label_bytes) {
      return InvalidArgument(field + " keys must be 1.." + std::to_string(limits.max_label_bytes) +
                                 " bytes and values at most that",
                             "shorten the label");
    }
    POPULI_RETURN_IF_ERROR(Utf8(field, k));
    POPULI_RETURN_IF_ERROR(Utf8(field, v));
  }
  return Status::Ok();
}

Status ValidateIdList(const std::string& field, const std::vector<std::string>& ids, size_t limit) {
  if (ids.size() > limit) return TooMany(field, ids.size(), limit);
  for (size_t i = 0; i < ids.size(); ++i)
    POPULI_RETURN_IF_ERROR(ValidateId(field + "[" + std::to_string(i) + "]", ids[i]));
  return Status::Ok();
}

}  // namespace

Status ValidateTaskSpec(const TaskSpec& s, const Limits& limits) {
  if (s.kind.empty())
    return InvalidArgument("kind is empty", "leave kind out or set it to \"exec\"");
  if (s.kind != "exec") {
    return InvalidArgument("kind '" + s.kind.substr(0, 64) + "' is not available yet",
                           "only \"exec\" tasks run today; leave kind out or set it to \"exec\"");
  }
  if (s.command.empty())
    return InvalidArgument("command is empty", "name the program to run, e.g. \"sh\"");
  POPULI_RETURN_IF_ERROR(ExecText("command", s.command, kMaxCommandBytes));
  if (s.args.size() > kMaxArgs) return TooMany("args", s.args.size(), kMaxArgs);
  for (size_t i = 0; i < s.args.size(); ++i)
    POPULI_RETURN_IF_ERROR(ExecText("args[" + std::to_string(i) + "]", s.args[i], kMaxArgBytes));
  if (s.env.size() > kMaxEnvEntries) return TooMany("env entries", s.env.size(), kMaxEnvEntries);
  for (const auto& [name, value] : s.env) {
    if (!IsEnvName(name)) {
      return InvalidArgument(
          "env name '" + name.substr(0, 64) + "' must match [A-Za-z_][A-Za-z0-9_]*",
          "rename the variable");
    }
    POPULI_RETURN_IF_ERROR(ExecText("env." + name, value, kMaxEnvValueBytes));
  }
  POPULI_RETURN_IF_ERROR(ExecText("working_dir", s.working_dir, kMaxWorkingDirBytes));
  if (!s.client_key.empty()) POPULI_RETURN_IF_ERROR(ValidateId("client_key", s.client_key));
  if (!s.submitter_node_id.empty())
    POPULI_RETURN_IF_ERROR(ValidateId("submitter_node_id", s.submitter_node_id));
  if (s.resources.gpus > limits.max_gpus) {
    return InvalidArgument("resources.gpus is " + std::to_string(s.resources.gpus) + "; at most " +
                               std::to_string(limits.max_gpus) + " may be asked for",
                           "ask for fewer GPUs");
  }
  if (s.resources.gpu_memory_bytes > 0 && s.resources.gpus == 0) {
    return InvalidArgument("resources.gpu_memory_bytes needs resources.gpus of at least 1",
                           "set gpus to the number of devices that each need that much memory");
  }
  POPULI_RETURN_IF_ERROR(
      ValidateLabelMap("constraints.required_labels", s.constraints.required_labels, limits));
  POPULI_RETURN_IF_ERROR(
      ValidateLabelMap("constraints.preferred_labels", s.constraints.preferred_labels, limits));
  POPULI_RETURN_IF_ERROR(
      ValidateIdList("constraints.node_allow", s.constraints.node_allow, kMaxNodeListEntries));
  POPULI_RETURN_IF_ERROR(
      ValidateIdList("constraints.node_deny", s.constraints.node_deny, kMaxNodeListEntries));
  if (s.max_attempts < 1 || s.max_attempts > kMaxTaskAttempts) {
    return InvalidArgument("max_attempts must be 1.." + std::to_string(kMaxTaskAttempts) +
                               " (got " + std::to_string(s.max_attempts) + ")",
                           "leave it out for the default of 3");
  }
  if (s.timeout_ms < 0 || s.timeout_ms > kMaxTaskTimeoutMs) {
    return InvalidArgument("timeout_ms must be 0.." + std::to_string(kMaxTaskTimeoutMs) +
                               " (7 days; got " + std::to_string(s.timeout_ms) + ")",
                           "0 means no limit");
  }
  POPULI_RETURN_IF_ERROR(ValidateIdList("secret_names", s.secret_names, kMaxSecretNames));
  return ValidateTraceparent(s.traceparent);
}

}  // namespace populi::mesh
