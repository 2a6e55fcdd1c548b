// The requests of one a2a_load cycle, as both drivers send them: deliver `batch` messages to the
// client's own inbox (one deliver-batch request, or one deliver request each), claim them
// (max_messages = batch), acknowledge the claimed ids.
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

  bool one_request() const { return batch > 1 && !deliver_each; }
  int deliver_requests() const { return one_request() ? 1 : batch; }
  const char* deliver_path() const { return one_request() ? kDeliverBatchPath : kDeliverPath; }
  std::string deliver_body(const std::string& node) const {
    return one_request() ? DeliverBatchBody(node, batch) : DeliverBody(node);
  }
};

inline std::string ClaimBody(const std::string& node, int batch) {
  return "{\"receiver\":\"" + node + "\",\"claimer_node_id\":\"" + node +
         "\",\"max_messages\":" + std::to_string(batch) + "}";
}

// One id acknowledges with message_id, several with message_ids (the batch form).
inline std::string AckBody(const std::string& node, const std::vector<int64_t>& ids) {
  std::string list;
  for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  return ids.size() == 1 ? "{\"receiver\":\"" + node + "\",\"message_id\":" + list + "}"
                         : "{\"receiver\":\"" + node + "\",\"message_ids\":[" + list + "]}";
}

// The "id" values in a messages page.
inline std::vector<int64_t> MessageIdsIn(const std::string& body) {
  std::vector<int64_t> ids;
  for (size_t p = 0; (p = body.find("\"id\":", p)) != std::string::npos; p += 5)
    ids.push_back(std::strtoll(body.c_str() + p + 5, nullptr, 10));
  return ids;
}

}  // namespace populi::bench
