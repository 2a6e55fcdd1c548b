// The front door's request table (docs/inference.md, "Relay" and "Failure"): each request a
// client sent, its attempts at nodes, the jobs waiting for each node's agent to pick them up,
// and the engine's answer as the agent posts it. In memory, thread-safe, no I/O: the control
// plane's routes drive it, and `notify` wakes whoever waits on a topic (TopicOfRequest for the
// client's connection, TopicOfNode for the node's agent).
//
// Life of a request: Begin routes it (inference/router.h) and queues a job for the chosen node;
// the node's agent takes it (TakeJob) and posts the engine's answer in chunks (Post). Until the
// first chunk that carries output, the client sees nothing: an attempt that fails before it (no
// answer, the engine died, a 429 or 5xx, the node went down, nobody picked the job up in time)
// leaves its node out of the request's candidates and the request is routed again, while the
// deadline allows. After the first output, a failure ends the stream with an error. End (the
// client's side is finished, or gone) cancels what still runs. Each attempt's in-flight count
// is released exactly once: when it fails, completes, or the request ends, whichever is first.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "inference/router.h"
#include "mesh/inference.h"
#include "util/status.h"

namespace populi::inference {

// An attempt that has no chunk from its agent this long after it was queued has failed (the
// agent is gone or not polling).
inline constexpr int64_t kPickupTimeoutMs = 10'000;
// Explanations of finished requests kept for `explain`.
inline constexpr size_t kFinishedKept = 1'000;
// A node's agent counts as polling this control plane while a job poll it opened may still be
// held, and this long after (the agent opens the next one at once; a backoff is longer).
inline constexpr int64_t kPollGraceMs = 5'000;

// How this control plane sees a node's job polls (with several replicas, an agent may poll some
// and not others). A job is queued only here, so only a node polling here picks it up soon.
enum class Polling {
  kPolling,  // a poll is held now, or ended within kPollGraceMs
  kNever,    // none since this table was made: a node that just joined, or one polling elsewhere
  kStopped,  // it polled here, not lately: its agent is gone or cannot reach this replica
};
std::string_view ToString(Polling p);

std::string TopicOfRequest(std::string_view request_id);
std::string TopicOfNode(std::string_view node_id);
// Notified when a job's attempt finishes, whatever the reason (JobWanted turns false).
std::string TopicOfJob(std::string_view job_id);

struct Target {
  Candidate candidate;
  std::string endpoint;  // the engine on that node to call
};

struct RequestSpec {
  std::string request_id;
  mesh::InferenceRoute route = mesh::InferenceRoute::kChatCompletions;
  std::string model;
  std::string body;
  bool stream = false;
  int64_t deadline_ms = 0;  // Unix ms
  std::string rendered;     // the conversation, for the prefix blocks
  std::vector<Target> targets;
};

enum class Phase {
  kWaiting,    // no output yet (attempts may be failing over)
  kStreaming,  // output has started; more may come
  kDone,       // the answer is complete (`error` set: it broke off after output had started)
  kFailed,     // no node answered; nothing was sent to the client
};

// What the client's side reads (Read hands each event over once).
struct Progress {
  Phase phase = Phase::kWaiting;
  int status = 0;                   // the engine's HTTP status of the attempt that answered
  std::string node_id;              // the node that answered
  std::vector<std::string> events;  // new since the last Read
  std::string error;                // kDone: why the stream broke off; kFailed: why nobody answered
  Code code = Code::kOk;            // kFailed: kResourceExhausted (every engine said 429),
                                    // kTimeout (deadline), kUnavailable otherwise
};

class FrontDoor {
 public:
  using Notify = std::function<void(std::string_view topic)>;
  FrontDoor(Router& router, Notify notify);
  ~FrontDoor();
  FrontDoor(const FrontDoor&) = delete;
  FrontDoor& operator=(const FrontDoor&) = delete;

  // Routes the request and queues its first attempt. kNotFound when no target serves the
  // model, kAlreadyExists for a request id in use.
  Status Begin(RequestSpec spec, int64_t now_ms);
  // The request's state; fails over first when its current attempt failed. kNotFound for an
  // unknown (or ended) request.
  Result<Progress> Read(const std::string& request_id, int64_t now_ms);
  // The client's side is finished or gone: cancels what still runs, releases in-flight counts,
  // and keeps the explanation. Idempotent.
  void End(const std::string& request_id, int64_t now_ms);

  // The agent's side: `node_id`'s agent opened a job poll here at now_ms that may be held up to
  // held_ms. A request is dispatched among the candidates polling here; only when none is, among
  // those that never polled here (a node whose first poll is a moment late), and only when
  // none of those either, among those that stopped (the pickup timeout then fails the attempt).
  void NotePoll(const std::string& node_id, int64_t now_ms, int64_t held_ms);
  Polling PollingOf(const std::string& node_id, int64_t now_ms) const;
  // The next job queued for `node_id`, if any.
  std::optional<mesh::InferenceJob> TakeJob(const std::string& node_id);
  // A chunk of the engine's answer. kNotFound for an unknown job; `cancel` when nobody wants
  // the answer any more.
  Result<mesh::InferenceChunkReply> Post(const mesh::InferenceChunk& chunk, int64_t now_ms);

  // Fails the attempts of nodes `alive` says are gone and of jobs nobody picked up within
  // kPickupTimeoutMs, and wakes the requests past their deadline. Called on a short period.
  void Sweep(int64_t now_ms, const std::function<bool(const std::string&)>& alive);

  // Whether the answer of job `job_id` is still wanted: false once its attempt finished (the
  // client went away, the deadline passed, the node was given up on, the answer is complete)
  // and for a job not known here. The agent ends its engine request when it turns false.
  bool JobWanted(const std::string& job_id) const;

  std::optional<mesh::InferenceExplanation> Explain(const std::string& request_id) const;
  size_t Active() const;

 private:
  struct Attempt;
  struct Request;
  // Routes `r` again (its failed nodes left out) and queues the attempt; false when no
  // candidate is left or the deadline passed (r is then failed).
  bool Dispatch(Request& r, int64_t now_ms);
  // The router's pick among the candidates that are not failed, reachable ones first (see
  // NotePoll); `skipped` gets those left out for not polling here.
  Decision PickReachable(const Request& r, int64_t now_ms,
                         std::vector<mesh::InferenceSkip>& skipped) const;
  Polling PollingLocked(const std::string& node_id, int64_t now_ms) const;
  void FailAttempt(Request& r, Attempt& a, int status, std::string error, int64_t now_ms);
  // Ends `a` once: releases its in-flight count and wakes its job's watch (TopicOfJob, as
  // JobWanted turns false). False when it had ended already.
  bool Finish(Attempt& a);
  void Release(Attempt& a);
  static mesh::InferenceExplanation Explanation(const Request& r);

  Router& router_;
  Notify notify_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Request>> requests_;
  std::map<std::string, std::pair<Request*, size_t>> jobs_;  // job id → request, attempt index
  std::map<std::string, std::deque<std::string>> queues_;    // node → job ids
  std::map<std::string, int64_t> polled_until_;  // node → end of its polling window (Unix ms)
  std::deque<mesh::InferenceExplanation> finished_;
};

}  // namespace populi::inference
