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

}  // namespace populi::dispatch
