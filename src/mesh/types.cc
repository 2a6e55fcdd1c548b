#include "mesh/types.h"

#include "mesh/replies.h"
#include "mesh/task.h"

#include <array>
#include <string>
#include <utility>

namespace populi::mesh {
namespace {

template <typename E, size_t N>
using Table = std::array<std::pair<E, std::string_view>, N>;

constexpr Table<PrivacyClass, 4> kPrivacy{{{PrivacyClass::kPublic, "public"},
                                           {PrivacyClass::kPrivate, "private"},
                                           {PrivacyClass::kTrusted, "trusted"},
                                           {PrivacyClass::kTrustedOnly, "trusted_only"}}};
constexpr Table<Visibility, 3> kVisibility{{{Visibility::kPrivate, "private"},
                                            {Visibility::kPublic, "public"},
                                            {Visibility::kHybrid, "hybrid"}}};
constexpr Table<TrustTier, 4> kTrust{{{TrustTier::kNew, "new"},
                                      {TrustTier::kProbation, "probation"},
                                      {TrustTier::kTrusted, "trusted"},
                                      {TrustTier::kDegraded, "degraded"}}};
constexpr Table<NodeState, 4> kNodeState{{{NodeState::kAlive, "alive"},
                                          {NodeState::kSuspect, "suspect"},
                                          {NodeState::kDown, "down"},
                                          {NodeState::kLeft, "left"}}};
constexpr Table<LeaseState, 6> kLeaseState{{{LeaseState::kGranted, "granted"},
                                            {LeaseState::kRenewed, "renewed"},
                                            {LeaseState::kExpired, "expired"},
                                            {LeaseState::kRevoked, "revoked"},
                                            {LeaseState::kReleased, "released"},
                                            {LeaseState::kCompleted, "completed"}}};
constexpr Table<MessageState, 4> kMessageState{{{MessageState::kPending, "pending"},
                                                {MessageState::kClaimed, "claimed"},
                                                {MessageState::kAcked, "acked"},
                                                {MessageState::kDeadLetter, "dead_letter"}}};

constexpr Table<TaskState, 6> kTaskState{{{TaskState::kPending, "pending"},
                                          {TaskState::kPlaced, "placed"},
                                          {TaskState::kRunning, "running"},
                                          {TaskState::kSucceeded, "succeeded"},
                                          {TaskState::kFailed, "failed"},
                                          {TaskState::kCancelled, "cancelled"}}};
constexpr Table<AttemptState, 6> kAttemptState{{{AttemptState::kPlaced, "placed"},
                                                {AttemptState::kRunning, "running"},
                                                {AttemptState::kSucceeded, "succeeded"},
                                                {AttemptState::kFailed, "failed"},
                                                {AttemptState::kLost, "lost"},
                                                {AttemptState::kCancelled, "cancelled"}}};
constexpr Table<DispatchKind, 3> kDispatch{{{DispatchKind::kLocal, "local"},
                                            {DispatchKind::kRemote, "remote"},
                                            {DispatchKind::kFallback, "fallback"}}};

template <typename E, size_t N>
std::string_view Name(const Table<E, N>& table, E v) {
  for (const auto& [e, name] : table)
    if (e == v) return name;
  return "unknown";
}

template <typename E, size_t N>
Result<E> Parse(const Table<E, N>& table, std::string_view s, std::string_view what) {
  for (const auto& [e, name] : table)
    if (name == s) return e;
  std::string allowed;
  for (const auto& [e, name] : table) {
    if (!allowed.empty()) allowed += ", ";
    allowed += name;
  }
  return InvalidArgument("unknown " + std::string(what) + " '" + std::string(s) + "'",
                         "use one of: " + allowed);
}

}  // namespace

std::string_view ToString(PrivacyClass v) {
  return Name(kPrivacy, v);
}
std::string_view ToString(Visibility v) {
  return Name(kVisibility, v);
}
std::string_view ToString(TrustTier v) {
  return Name(kTrust, v);
}
std::string_view ToString(NodeState v) {
  return Name(kNodeState, v);
}
std::string_view ToString(LeaseState v) {
  return Name(kLeaseState, v);
}
std::string_view ToString(MessageState v) {
  return Name(kMessageState, v);
}

Result<PrivacyClass> ParsePrivacyClass(std::string_view s) {
  return Parse(kPrivacy, s, "privacy_class");
}
Result<Visibility> ParseVisibility(std::string_view s) {
  return Parse(kVisibility, s, "visibility");
}
Result<TrustTier> ParseTrustTier(std::string_view s) {
  return Parse(kTrust, s, "trust_tier");
}
Result<NodeState> ParseNodeState(std::string_view s) {
  return Parse(kNodeState, s, "node state");
}
Result<LeaseState> ParseLeaseState(std::string_view s) {
  return Parse(kLeaseState, s, "lease state");
}
Result<MessageState> ParseMessageState(std::string_view s) {
  return Parse(kMessageState, s, "message state");
}

std::string_view ToString(TaskState v) {
  return Name(kTaskState, v);
}
std::string_view ToString(AttemptState v) {
  return Name(kAttemptState, v);
}
std::string_view ToString(DispatchKind v) {
  return Name(kDispatch, v);
}
Result<TaskState> ParseTaskState(std::string_view s) {
  return Parse(kTaskState, s, "task state");
}
Result<AttemptState> ParseAttemptState(std::string_view s) {
  return Parse(kAttemptState, s, "attempt state");
}
Result<DispatchKind> ParseDispatchKind(std::string_view s) {
  return Parse(kDispatch, s, "dispatch kind");
}

std::string TaskInboxFor(const std::string& node_id) {
  return "tasks:" + node_id;
}

std::string ResultSigningText(const std::string& task_id, int32_t attempt,
                              const std::string& lease_id, int64_t fencing_token, int32_t exit_code,
                              const std::string& error, const std::string& output_sha256_hex) {
  return "populi-task-result-v1\n" + task_id + "\n" + std::to_string(attempt) + "\n" + lease_id +
         "\n" + std::to_string(fencing_token) + "\n" + std::to_string(exit_code) + "\n" + error +
         "\n" + output_sha256_hex;
}

TaskExplanation Explain(const Task& task) {
  TaskExplanation out;
  out.task_id = task.id;
  out.state = task.state;
  out.pending_reason = task.pending_reason;
  for (const Attempt& a : task.attempts) {
    out.attempts.push_back(
        {a.number, a.node_id, a.dispatch, a.state, a.placement_summary, a.error, a.exit_code});
  }
  return out;
}

}  // namespace populi::mesh
