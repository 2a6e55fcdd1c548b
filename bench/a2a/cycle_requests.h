// The requests of one a2a_load cycle, as both drivers send them: deliver `batch` messages to the
// client's own inbox, claim them (max_messages = batch), acknowledge the claimed ids.
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
