// The requests of one a2a_load cycle, as both drivers send them: deliver `batch` messages to the
// client's own inbox, or with a shared queue to the one receiver every client uses (one
// deliver-batch request, or one deliver request each), claim them (max_messages = batch; on a
// shared queue whichever messages the claim gets), acknowledge the claimed ids (one ack request,
// or with ack_next as part of the next cycle's claim).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace populi::bench {

inline constexpr const char* kDeliverPath = "/v1/populi/a2a/deliver";
inline constexpr const char* kClaimPath = "/v1/populi/a2a/inbox";
inline constexpr const char* kAckPath = "/v1/populi/a2a/ack";
inline constexpr const char* kDeliverBatchPath = "/v1/populi/a2a/deliver-batch";

// How a cycle's messages look and where they go.
struct CyclePlan {
  int batch = 1;
  bool deliver_each = false;      // one deliver request per message even when batch > 1
  bool ack_next = false;          // acknowledge with the next claim instead of an ack request
  std::string payload = "x";      // every message's payload (letters only: sent unescaped)
  bool idempotency_keys = false;  // a key of its own on every message, as a producer that retries
  std::string key_prefix;         // starts every key (one per run: a rerun's keys are new)
  std::string shared_queue;       // non-empty: the receiver of every client's messages

  bool one_request() const { return batch > 1 && !deliver_each; }
  int deliver_requests() const { return one_request() ? 1 : batch; }
  const char* deliver_path() const { return one_request() ? kDeliverBatchPath : kDeliverPath; }
  // The inbox the client `node` delivers to and claims from.
  std::string receiver(const std::string& node) const {
    return shared_queue.empty() ? node : shared_queue;
  }
  // The body of the client's next deliver request; `*seq` numbers its messages (for the keys).
  std::string deliver_body(const std::string& node, int64_t* seq) const {
    if (!one_request()) return Message(node, (*seq)++);
    std::string body = "{\"messages\":[";
    for (int i = 0; i < batch; ++i) body += (i == 0 ? "" : ",") + Message(node, (*seq)++);
    return body + "]}";
  }

 private:
  std::string Message(const std::string& node, int64_t seq) const {
    std::string m = "{\"sender\":\"bench\",\"receiver\":\"" + receiver(node) +
                    "\",\"message_type\":\"task_submit\",\"payload\":\"" + payload + "\"";
    if (idempotency_keys)
      m += ",\"idempotency_key\":\"" + key_prefix + node + "-" + std::to_string(seq) + "\"";
    return m + "}";
  }
};

// A claim by `node` from the inbox `receiver`. With `ack` non-empty the claim first acknowledges
// those ids (ack_message_ids), presenting `token`, the claim_token of the claim that took them.
inline std::string ClaimBody(const std::string& receiver, const std::string& node, int batch,
                             const std::vector<int64_t>& ack = {}, const std::string& token = {}) {
  std::string body = "{\"receiver\":\"" + receiver + "\",\"claimer_node_id\":\"" + node +
                     "\",\"max_messages\":" + std::to_string(batch);
  if (!ack.empty()) {
    body += ",\"ack_message_ids\":[";
    for (size_t i = 0; i < ack.size(); ++i) body += (i == 0 ? "" : ",") + std::to_string(ack[i]);
    body += "],\"ack_claim_token\":\"" + token + "\"";
  }
  return body + "}";
}

// One id acknowledges with message_id, several with message_ids (the batch form).
inline std::string AckBody(const std::string& receiver, const std::vector<int64_t>& ids,
                           const std::string& token) {
  std::string list;
  for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  const std::string fence = ",\"claim_token\":\"" + token + "\"}";
  return ids.size() == 1
             ? "{\"receiver\":\"" + receiver + "\",\"message_id\":" + list + fence
             : "{\"receiver\":\"" + receiver + "\",\"message_ids\":[" + list + "]" + fence;
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
