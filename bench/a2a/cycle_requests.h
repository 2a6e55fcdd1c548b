// The requests of one a2a_load cycle, as both drivers send them: deliver `batch` messages to the
// client's own inbox (one deliver-batch request, or one deliver request each), claim them
// (max_messages = batch), acknowledge the claimed ids (one ack request, or with ack_next as part of
// the next cycle's claim).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace populi::bench {

inline constexpr const char* kDeliverPath = "/v1/populi/a2a/deliver";
inline constexpr const char* kClaimPath = "/v1/populi/a2a/inbox";
inline constexpr const char* kAckPath = "/v1/populi/a2a/ack";

inline std::string DeliverBody(const std::string& node) {
  return "{\"sender\":\"bench\",\"receiver\":\"" + node +
         "\",\"message_type\":\"task_submit\",\"payload\":\"x\"}";
}

inline constexpr const char* kDeliverBatchPath = "/v1/populi/a2a/deliver-batch";

inline std::string DeliverBatchBody(const std::string& node, int count) {
  std::string body = "{\"messages\":[";
  for (int i = 0; i < count; ++i) body += (i == 0 ? "" : ",") + DeliverBody(node);
  return body + "]}";
}

// How a cycle's deliveries go out.
struct CyclePlan {
  int batch = 1;
  bool deliver_each = false;  // one deliver request per message even when batch > 1
  bool ack_next = false;      // acknowledge with the next claim instead of an ack request

  bool one_request() const { return batch > 1 && !deliver_each; }
  int deliver_requests() const { return one_request() ? 1 : batch; }
  const char* deliver_path() const { return one_request() ? kDeliverBatchPath : kDeliverPath; }
  std::string deliver_body(const std::string& node) const {
    return one_request() ? DeliverBatchBody(node, batch) : DeliverBody(node);
  }
};

// With `ack` non-empty the claim first acknowledges those ids (ack_message_ids), presenting
// `token`, the claim_token of the claim that took them.
inline std::string ClaimBody(const std::string& node, int batch,
                             const std::vector<int64_t>& ack = {}, const std::string& token = {}) {
  std::string body = "{\"receiver\":\"" + node + "\",\"claimer_node_id\":\"" + node +
                     "\",\"max_messages\":" + std::to_string(batch);
  if (!ack.empty()) {
    body += ",\"ack_message_ids\":[";
    for (size_t i = 0; i < ack.size(); ++i) body += (i == 0 ? "" : ",") + std::to_string(ack[i]);
    body += "],\"ack_claim_token\":\"" + token + "\"";
  }
  return body + "}";
}

// One id acknowledges with message_id, several with message_ids (the batch form).
inline std::string AckBody(const std::string& node, const std::vector<int64_t>& ids,
                           const std::string& token) {
  std::string list;
  for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  const std::string fence = ",\"claim_token\":\"" + token + "\"}";
  return ids.size() == 1 ? "{\"receiver\":\"" + node + "\",\"message_id\":" + list + fence
                         : "{\"receiver\":\"" + node + "\",\"message_ids\":[" + list + "]" + fence;
}

// The claim_token of a claim's reply (every message of one claim carries the same), or "".
inline std::string ClaimTokenIn(const std::string& body) {
  const std::string key = "\"claim_token\":\"";
  const size_t start = body.find(key);
  if (start == std::string::npos) return {};
  const size_t end = body.find('"', start + key.size());
  return end == std::string::npos ? std::string()
                                  : body.substr(start + key.size(), end - start - key.size());
}

// How many ids a claim's "acked" list holds (0 when absent).
inline int64_t AckedCountIn(const std::string& body) {
  const size_t start = body.find("\"acked\":[");
  if (start == std::string::npos) return 0;
  const size_t end = body.find(']', start);
  int64_t n = 0;
  bool in_number = false;
  for (size_t i = start + 9; i < end && end != std::string::npos; ++i) {
    const bool digit = body[i] >= '0' && body[i] <= '9';
    if (digit && !in_number) ++n;
    in_number = digit;
  }
  return n;
}

// The "id" values in a messages page.
inline std::vector<int64_t> MessageIdsIn(const std::string& body) {
  std::vector<int64_t> ids;
  for (size_t p = 0; (p = body.find("\"id\":", p)) != std::string::npos; p += 5)
    ids.push_back(std::strtoll(body.c_str() + p + 5, nullptr, 10));
  return ids;
}

}  // namespace populi::bench
