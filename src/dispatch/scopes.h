// Names dispatch shares with the routes: the lease scope of a task and the wake-up topics that
// long-polls and event streams wait on.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace populi::dispatch {

// Scope key of a task's exec leases: "task:<id>".
std::string TaskScope(const std::string& task_id);
// The task id of a "task:<id>" scope; nullopt for other scopes.
std::optional<std::string> TaskIdOfScope(const std::string& scope_key);
// Long-poll / stream topic announcing any change of one task.
std::string TaskTopic(const std::string& task_id);
// Inbox topic of a receiver (the same one A2A deliveries announce).
std::string NodeInboxTopic(const std::string& receiver);
// Topic of the event feed.
inline constexpr std::string_view kEventsTopic = "events";

// Wakes whoever waits on a topic (the HTTP server's notifier). Must not block; may be empty.
using Announce = std::function<void(std::string_view topic)>;

}  // namespace populi::dispatch
