#include "dispatch/scopes.h"

namespace populi::dispatch {

std::string TaskScope(const std::string& task_id) {
  return "task:" + task_id;
}

std::optional<std::string> TaskIdOfScope(const std::string& scope_key) {
  if (scope_key.rfind("task:", 0) != 0) return std::nullopt;
  return scope_key.substr(5);
}

std::string TaskTopic(const std::string& task_id) {
  return "task:" + task_id;
}

std::string NodeInboxTopic(const std::string& receiver) {
  return "inbox:" + receiver;
}

namespace {

constexpr std::string_view kDroppedPrefix = "liveness.dropped:";
constexpr std::string_view kHeldPrefix = "liveness.held:";

std::optional<std::string> AfterPrefix(std::string_view topic, std::string_view prefix) {
  if (topic.size() <= prefix.size() || topic.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  return std::string(topic.substr(prefix.size()));
}

}  // namespace

std::string DroppedTopic(const std::string& node_id) {
  return std::string(kDroppedPrefix) + node_id;
}

std::string HeldTopic(const std::string& node_id) {
  return std::string(kHeldPrefix) + node_id;
}

std::optional<std::string> NodeOfDroppedTopic(std::string_view topic) {
  return AfterPrefix(topic, kDroppedPrefix);
}

std::optional<std::string> NodeOfHeldTopic(std::string_view topic) {
  return AfterPrefix(topic, kHeldPrefix);
}

}  // namespace populi::dispatch
