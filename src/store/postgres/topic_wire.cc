#include "store/postgres/topic_wire.h"

#include <algorithm>
#include <cstdio>

namespace populi::store::postgres {
namespace {

constexpr std::string_view kChannelPrefix = "populi_topics_";
constexpr size_t kMaxIdentifierBytes = 63;  // PostgreSQL's NAMEDATALEN - 1
constexpr std::string_view kPayloadVersion = "1 ";

// FNV-1a: stable across builds and platforms, which std::hash is not.
uint64_t StableHash(std::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

bool Sendable(std::string_view topic) {
  return !topic.empty() && topic.size() <= kMaxTopicBytes &&
         topic.find('\n') == std::string_view::npos && topic.find('\0') == std::string_view::npos;
}

}  // namespace

std::string TopicChannelName(std::string_view schema) {
  std::string name = std::string(kChannelPrefix) + std::string(schema);
  if (name.size() <= kMaxIdentifierBytes) return name;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(StableHash(schema)));
  const size_t keep = kMaxIdentifierBytes - kChannelPrefix.size() - 1 - 16;
  return std::string(kChannelPrefix) + std::string(schema.substr(0, keep)) + "_" + hash;
}

std::string TopicListenerName(std::string_view schema) {
  return ("populi topics " + std::string(schema)).substr(0, kMaxIdentifierBytes);
}

std::vector<std::string> EncodeTopicPayloads(std::string_view replica,
                                             const std::vector<std::string>& topics) {
  const std::string head = std::string(kPayloadVersion) + std::string(replica) + "\n";
  std::vector<std::string> payloads;
  std::string current = head;
  for (const std::string& given : topics) {
    const std::string_view topic = Sendable(given) ? std::string_view(given) : kEveryTopic;
    const size_t extra = (current.size() > head.size() ? 1 : 0) + topic.size();
    if (current.size() > head.size() && current.size() + extra > kMaxPayloadBytes) {
      payloads.push_back(std::move(current));
      current = head;
    }
    if (current.size() > head.size()) current += '\n';
    current += topic;
  }
  if (current.size() > head.size()) payloads.push_back(std::move(current));
  return payloads;
}

std::optional<DecodedTopics> DecodeTopicPayload(std::string_view payload) {
  if (payload.substr(0, kPayloadVersion.size()) != kPayloadVersion) return std::nullopt;
  payload.remove_prefix(kPayloadVersion.size());
  const size_t end_of_replica = payload.find('\n');
  if (end_of_replica == 0 || end_of_replica == std::string_view::npos) return std::nullopt;
  DecodedTopics out;
  out.replica = std::string(payload.substr(0, end_of_replica));
  payload.remove_prefix(end_of_replica + 1);
  while (!payload.empty()) {
    const size_t end = std::min(payload.find('\n'), payload.size());
    if (end > 0) out.topics.emplace_back(payload.substr(0, end));
    payload.remove_prefix(std::min(end + 1, payload.size()));
  }
  return out;
}

void TopicQueue::Push(std::string_view topic) {
  if (overflowed_) return;
  if (!Sendable(topic)) topic = kEveryTopic;
  seq_[std::string(topic)] = next_++;
  if (seq_.size() > kMaxQueuedTopics) {
    seq_.clear();
    overflowed_ = true;
  }
}

std::vector<std::string> TopicQueue::Take() {
  std::vector<std::string> out;
  if (overflowed_) {
    out.emplace_back(kEveryTopic);
  } else {
    std::vector<std::pair<int64_t, std::string>> ordered;
    ordered.reserve(seq_.size());
    for (auto& [topic, seq] : seq_) ordered.emplace_back(seq, topic);
    std::sort(ordered.begin(), ordered.end());
    out.reserve(ordered.size());
    for (auto& [seq, topic] : ordered) out.push_back(std::move(topic));
  }
  seq_.clear();
  overflowed_ = false;
  return out;
}

void TopicQueue::Restore(const std::vector<std::string>& topics) {
  if (overflowed_) return;
  int64_t first = next_;
  for (const auto& [topic, seq] : seq_) first = std::min(first, seq);
  // Back in front, in their order; a topic published again since keeps its newer place.
  int64_t position = first - static_cast<int64_t>(topics.size());
  for (const std::string& topic : topics) seq_.try_emplace(topic, position++);
  if (seq_.size() > kMaxQueuedTopics) {
    seq_.clear();
    overflowed_ = true;
  }
}

}  // namespace populi::store::postgres
