// The wire form of the PostgreSQL topic channel (topic_listener.h): the NOTIFY channel name, the
// payloads, and the publisher's coalescing queue. Pure: no libpq, no threads.
//
// A payload is "1 <replica>\n<topic>\n<topic>…": a format version, the sending replica's id and
// one or more topics, at most kMaxPayloadBytes (PostgreSQL refuses 8000 bytes and more). The
// topic "*" means "every topic": it stands in for a topic that cannot be sent (empty, too long,
// holding a newline) and for a backlog that overflowed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace populi::store::postgres {

inline constexpr size_t kMaxPayloadBytes = 7'900;
inline constexpr size_t kMaxTopicBytes = 1'024;
// Distinct topics a queue holds before it collapses to "*".
inline constexpr size_t kMaxQueuedTopics = 4'096;
inline constexpr std::string_view kEveryTopic = "*";

// The NOTIFY channel of the stores on `schema`: "populi_topics_<schema>", or, when that is longer
// than an identifier may be (63 bytes), the prefix and a hash of the schema name.
std::string TopicChannelName(std::string_view schema);

// The application_name of the LISTEN connections of the stores on `schema` ("populi topics
// <schema>", cut to 63 bytes): what pg_stat_activity shows.
std::string TopicListenerName(std::string_view schema);

// `topics` (in order) as payloads from `replica`, each within kMaxPayloadBytes.
std::vector<std::string> EncodeTopicPayloads(std::string_view replica,
                                             const std::vector<std::string>& topics);

struct DecodedTopics {
  std::string replica;
  std::vector<std::string> topics;  // may hold "*"
};
// nullopt for a payload this version cannot read (the receiver then wakes every topic).
std::optional<DecodedTopics> DecodeTopicPayload(std::string_view payload);

// Topics waiting to be sent: a topic published again moves to the end instead of being queued
// twice, so the order of each topic's latest publication survives coalescing. Past
// kMaxQueuedTopics distinct topics the queue holds "*" alone. Not thread-safe.
class TopicQueue {
 public:
  void Push(std::string_view topic);
  // Every queued topic, oldest latest-publication first; the queue is empty afterwards.
  std::vector<std::string> Take();
  // Puts `topics` (from Take) back before anything queued since.
  void Restore(const std::vector<std::string>& topics);
  bool empty() const { return seq_.empty() && !overflowed_; }

 private:
  std::unordered_map<std::string, int64_t> seq_;  // topic → its latest position
  int64_t next_ = 0;
  bool overflowed_ = false;
};

}  // namespace populi::store::postgres
