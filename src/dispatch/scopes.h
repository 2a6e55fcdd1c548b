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
// Announcements between control-plane replicas that nobody waits on: a node's held connection
// dropped at the announcing replica ("liveness.dropped:<id>"), or a node whose drop was
// announced holds a connection there again ("liveness.held:<id>").
std::string DroppedTopic(const std::string& node_id);
std::string HeldTopic(const std::string& node_id);
// The node a DroppedTopic / HeldTopic names; nullopt for any other topic.
std::optional<std::string> NodeOfDroppedTopic(std::string_view topic);
std::optional<std::string> NodeOfHeldTopic(std::string_view topic);

// Wakes whoever waits on a topic (the HTTP server's notifier). Must not block; may be empty.
using Announce = std::function<void(std::string_view topic)>;

}  // namespace populi::dispatch
