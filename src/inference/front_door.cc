#include "inference/front_door.h"

#include <algorithm>
#include <utility>

namespace populi::inference {

std::string TopicOfRequest(std::string_view request_id) {
  return "inference:" + std::string(request_id);
}
std::string TopicOfNode(std::string_view node_id) {
  return "inference.node:" + std::string(node_id);
}
std::string TopicOfJob(std::string_view job_id) {
  return "inference.job:" + std::string(job_id);
}

std::string_view ToString(Polling p) {
  switch (p) {
    case Polling::kPolling:
      return "polling";
    case Polling::kNever:
      return "never_polled";
    case Polling::kStopped:
      return "stopped_polling";
  }
  return "polling";
}

struct FrontDoor::Attempt {
  std::string job_id;
  Target target;
  Decision decision;
  std::vector<mesh::InferenceSkip> skipped;
  int64_t started_ms = 0;
  int64_t next_seq = 0;
  bool picked = false;   // the agent posted something
  bool counted = false;  // holds one of its node's in-flight count
  bool output = false;   // output reached the client's side
  bool finished = false;
  std::string outcome = "pending";
  std::string error;
  int status = 0;
};

struct FrontDoor::Request {
  RequestSpec spec;
  std::vector<uint64_t> hashes;
  std::set<std::string> failed_nodes;
  std::vector<Attempt> attempts;
  Phase phase = Phase::kWaiting;
  std::vector<std::string> pending;  // events not yet read
  std::string error;
  Code code = Code::kOk;
  int last_status = 0;  // of the last failed attempt
  bool all_429 = true;  // every failed attempt was a 429
  size_t current = 0;   // index of the attempt the client's answer comes from
};

FrontDoor::FrontDoor(Router& router, Notify notify) : router_(router), notify_(std::move(notify)) {}

FrontDoor::~FrontDoor() {
  std::lock_guard lock(mu_);
  for (auto& [id, r] : requests_)
    for (auto& a : r->attempts) Release(a);
}

bool FrontDoor::Finish(Attempt& a) {
  if (a.finished) return false;
  a.finished = true;
  Release(a);
  notify_(TopicOfJob(a.job_id));
  return true;
}

void FrontDoor::Release(Attempt& a) {
  if (!a.counted) return;
  a.counted = false;
  router_.End(a.target.candidate.node_id);
}

Status FrontDoor::Begin(RequestSpec spec, int64_t now_ms) {
  std::unique_lock lock(mu_);
  if (requests_.count(spec.request_id) != 0) {
    return Status(Code::kAlreadyExists, "request " + spec.request_id + " is already in progress",
                  "send each request with its own x-request-id");
  }
  if (spec.targets.empty()) {
    return NotFound("no node serves model " + spec.model,
                    "GET /v1/models lists the models the mesh serves");
  }
  auto r = std::make_unique<Request>();
  r->hashes = BlockHashes(spec.rendered);
  r->spec = std::move(spec);
  Request& req = *r;
  requests_.emplace(req.spec.request_id, std::move(r));
  Dispatch(req, now_ms);
  return Status::Ok();
}

bool FrontDoor::Dispatch(Request& r, int64_t now_ms) {
  if (now_ms >= r.spec.deadline_ms) {
    r.phase = Phase::kFailed;
    r.code = Code::kTimeout;
    if (r.error.empty()) r.error = "no node answered before the request's deadline";
    return false;
  }
  std::vector<mesh::InferenceSkip> skipped;
  Decision d = PickReachable(r, now_ms, skipped);
  if (d.node_id.empty()) {
    r.phase = Phase::kFailed;
    r.code = !r.attempts.empty() && r.all_429 ? Code::kResourceExhausted : Code::kUnavailable;
    if (r.error.empty()) r.error = "no node can serve model " + r.spec.model;
    return false;
  }
  Attempt a;
  a.job_id = r.spec.request_id + "." + std::to_string(r.attempts.size() + 1);
  for (const auto& t : r.spec.targets)
    if (t.candidate.node_id == d.node_id) a.target = t;
  a.decision = d;
  a.skipped = std::move(skipped);
  a.started_ms = now_ms;
  router_.Begin(d.node_id);
  a.counted = true;
  r.current = r.attempts.size();
  r.attempts.push_back(std::move(a));
  jobs_[r.attempts.back().job_id] = {&r, r.current};
  queues_[d.node_id].push_back(r.attempts.back().job_id);
  notify_(TopicOfNode(d.node_id));
  return true;
}

Decision FrontDoor::PickReachable(const Request& r, int64_t now_ms,
                                  std::vector<mesh::InferenceSkip>& skipped) const {
  std::vector<Candidate> candidates;
  candidates.reserve(r.spec.targets.size());
  std::vector<std::pair<std::string, Polling>> away;  // candidates not polling here
  for (const auto& t : r.spec.targets) {
    candidates.push_back(t.candidate);
    const std::string& node = t.candidate.node_id;
    if (r.failed_nodes.count(node) != 0) continue;
    const Polling p = PollingLocked(node, now_ms);
    if (p != Polling::kPolling) away.emplace_back(node, p);
  }
  // Left out in turn: every node not polling here; only those that stopped; none. The sets
  // shrink level by level, so an equal size is an equal set: no second pick on it.
  Decision d;
  size_t last = 0;
  for (int level = 0; level < 3; ++level) {
    std::set<std::string> excluded = r.failed_nodes;
    skipped.clear();
    for (const auto& [node, p] : away) {
      if (level == 2 || (level == 1 && p == Polling::kNever)) continue;
      excluded.insert(node);
      skipped.push_back({node, std::string(ToString(p))});
    }
    if (level > 0 && excluded.size() == last) continue;
    last = excluded.size();
    d = router_.Pick(candidates, r.hashes, excluded);
    if (!d.node_id.empty()) return d;
  }
  skipped.clear();
  return d;
}

void FrontDoor::FailAttempt(Request& r, Attempt& a, int status, std::string error, int64_t now_ms) {
  if (!Finish(a)) return;
  a.status = status;
  a.error = std::move(error);
  r.error = a.error;
  if (a.output) {
    // The client already has output: the stream ends with an error event, no second node.
    a.outcome = "failed";
    r.phase = Phase::kDone;
  } else {
    a.outcome = "failed";
    r.failed_nodes.insert(a.target.candidate.node_id);
    r.last_status = status;
    if (status != 429) r.all_429 = false;
    Dispatch(r, now_ms);
  }
  notify_(TopicOfRequest(r.spec.request_id));
}

Result<Progress> FrontDoor::Read(const std::string& request_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return NotFound("no request " + request_id, "");
  Request& r = *it->second;
  if (r.phase == Phase::kWaiting && now_ms >= r.spec.deadline_ms) {
    if (!r.attempts.empty()) {
      Attempt& a = r.attempts[r.current];
      if (Finish(a)) {
        a.outcome = "cancelled";
        a.error = "the request's deadline passed";
      }
    }
    r.phase = Phase::kFailed;
    r.code = Code::kTimeout;
    r.error = "no node answered before the request's deadline";
  }
  Progress p;
  p.phase = r.phase;
  p.error = r.error;
  p.code = r.code;
  if (!r.attempts.empty()) {
    const Attempt& a = r.attempts[r.current];
    p.status = a.status;
    if (a.output) p.node_id = a.target.candidate.node_id;
  }
  p.events = std::move(r.pending);
  r.pending.clear();
  return p;
}

void FrontDoor::End(const std::string& request_id, int64_t now_ms) {
  (void)now_ms;
  std::lock_guard lock(mu_);
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  Request& r = *it->second;
  for (auto& a : r.attempts) {
    if (Finish(a)) a.outcome = "cancelled";
    Release(a);
  }
  finished_.push_back(Explanation(r));
  // Ended before the answer was complete: the client went away.
  if (r.phase == Phase::kWaiting || r.phase == Phase::kStreaming)
    finished_.back().state = "cancelled";
  if (finished_.size() > kFinishedKept) finished_.pop_front();
  for (const auto& a : r.attempts) jobs_.erase(a.job_id);
  requests_.erase(it);
}

void FrontDoor::NotePoll(const std::string& node_id, int64_t now_ms, int64_t held_ms) {
  std::lock_guard lock(mu_);
  int64_t& until = polled_until_[node_id];
  until = std::max(until, now_ms + std::max<int64_t>(held_ms, 0) + kPollGraceMs);
}

Polling FrontDoor::PollingOf(const std::string& node_id, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return PollingLocked(node_id, now_ms);
}

Polling FrontDoor::PollingLocked(const std::string& node_id, int64_t now_ms) const {
  auto it = polled_until_.find(node_id);
  if (it == polled_until_.end()) return Polling::kNever;
  return now_ms <= it->second ? Polling::kPolling : Polling::kStopped;
}

std::optional<mesh::InferenceJob> FrontDoor::TakeJob(const std::string& node_id) {
  std::lock_guard lock(mu_);
  auto q = queues_.find(node_id);
  if (q == queues_.end()) return std::nullopt;
  while (!q->second.empty()) {
    const std::string id = std::move(q->second.front());
    q->second.pop_front();
    auto j = jobs_.find(id);
    if (j == jobs_.end()) continue;
    Request& r = *j->second.first;
    Attempt& a = r.attempts[j->second.second];
    if (a.finished) continue;
    mesh::InferenceJob job;
    job.id = a.job_id;
    job.request_id = r.spec.request_id;
    job.node_id = node_id;
    job.route = r.spec.route;
    job.endpoint = a.target.endpoint;
    job.model = r.spec.model;
    job.stream = r.spec.stream;
    job.body = r.spec.body;
    job.deadline_ms = r.spec.deadline_ms;
    if (q->second.empty()) queues_.erase(q);
    return job;
  }
  queues_.erase(q);
  return std::nullopt;
}

Result<mesh::InferenceChunkReply> FrontDoor::Post(const mesh::InferenceChunk& chunk,
                                                  int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto j = jobs_.find(chunk.job_id);
  if (j == jobs_.end()) {
    // The request ended (or never was here): the agent stops.
    return mesh::InferenceChunkReply{true};
  }
  Request& r = *j->second.first;
  Attempt& a = r.attempts[j->second.second];
  if (a.finished || j->second.second != r.current) return mesh::InferenceChunkReply{true};
  if (chunk.seq < a.next_seq) return mesh::InferenceChunkReply{false};  // a repeat
  a.next_seq = chunk.seq + 1;
  a.picked = true;
  if (chunk.status != 0) a.status = chunk.status;
  const bool engine_failed =
      !a.output && (chunk.status == 0 ? !chunk.error.empty() || chunk.done
                                      : chunk.status == 429 || chunk.status >= 500);
  if (engine_failed) {
    std::string why =
        !chunk.error.empty() ? chunk.error : "the engine answered " + std::to_string(chunk.status);
    if (chunk.status != 0 && !chunk.events.empty())
      why += ": " + chunk.events.front().substr(0, 200);
    FailAttempt(r, a, chunk.status, std::move(why), now_ms);
    return mesh::InferenceChunkReply{true};
  }
  if (!chunk.events.empty() && !a.output) router_.Served(a.target.candidate.node_id, r.hashes);
  if (!chunk.events.empty()) {
    if (a.status == 0) a.status = 200;  // output without a status line: the engine's stream
    a.output = true;
    a.outcome = "streaming";
    if (r.phase == Phase::kWaiting) r.phase = Phase::kStreaming;
    for (const auto& e : chunk.events) r.pending.push_back(e);
  }
  if (chunk.done) {
    Finish(a);
    if (!chunk.error.empty()) {
      if (a.output) {
        a.outcome = "failed";
        a.error = chunk.error;
        r.error = chunk.error;
        r.phase = Phase::kDone;
      } else {
        FailAttempt(r, a, chunk.status, chunk.error, now_ms);
        return mesh::InferenceChunkReply{true};
      }
    } else {
      a.outcome = "done";
      if (!a.output) router_.Served(a.target.candidate.node_id, r.hashes);
      a.output = true;  // a complete answer, even an empty one, is the answer
      r.phase = Phase::kDone;
    }
  }
  notify_(TopicOfRequest(r.spec.request_id));
  return mesh::InferenceChunkReply{false};
}

void FrontDoor::Sweep(int64_t now_ms, const std::function<bool(const std::string&)>& alive) {
  std::lock_guard lock(mu_);
  for (auto& [id, rp] : requests_) {
    Request& r = *rp;
    if (r.phase == Phase::kWaiting && now_ms >= r.spec.deadline_ms) {
      notify_(TopicOfRequest(id));
      continue;
    }
    if (r.attempts.empty()) continue;
    Attempt& a = r.attempts[r.current];
    if (a.finished) continue;
    const std::string& node = a.target.candidate.node_id;
    if (!alive(node)) {
      FailAttempt(r, a, 0, "node " + node + " went down", now_ms);
    } else if (!a.picked && now_ms - a.started_ms >= kPickupTimeoutMs) {
      FailAttempt(r, a, 0, "node " + node + " did not pick the request up", now_ms);
    }
  }
}

mesh::InferenceExplanation FrontDoor::Explanation(const Request& r) {
  mesh::InferenceExplanation e;
  e.request_id = r.spec.request_id;
  e.model = r.spec.model;
  e.route = std::string(mesh::ToString(r.spec.route));
  e.stream = r.spec.stream;
  e.blocks = static_cast<int64_t>(r.hashes.size());
  switch (r.phase) {
    case Phase::kWaiting:
      e.state = "waiting";
      break;
    case Phase::kStreaming:
      e.state = "streaming";
      break;
    case Phase::kDone:
      e.state = r.error.empty() ? "done" : "failed";
      break;
    case Phase::kFailed:
      e.state = "failed";
      break;
  }
  for (const auto& a : r.attempts) {
    if (a.output) e.served_by = a.target.candidate.node_id;
    mesh::InferenceAttemptView v;
    v.node_id = a.target.candidate.node_id;
    v.loaded = a.decision.loaded;
    v.matched_blocks = a.decision.matched_blocks;
    v.in_flight = a.decision.in_flight;
    v.load_cap = a.decision.load_cap;
    v.load = a.decision.load;
    v.engine = a.decision.engine;
    v.candidates = a.decision.eligible;
    v.outcome = a.outcome;
    v.error = a.error;
    v.started_ms = a.started_ms;
    v.skipped = a.skipped;
    e.attempts.push_back(std::move(v));
  }
  return e;
}

bool FrontDoor::JobWanted(const std::string& job_id) const {
  std::lock_guard lock(mu_);
  auto j = jobs_.find(job_id);
  if (j == jobs_.end()) return false;
  const Request& r = *j->second.first;
  return j->second.second == r.current && !r.attempts[j->second.second].finished;
}

std::optional<mesh::InferenceExplanation> FrontDoor::Explain(const std::string& request_id) const {
  std::lock_guard lock(mu_);
  if (auto it = requests_.find(request_id); it != requests_.end()) return Explanation(*it->second);
  for (auto it = finished_.rbegin(); it != finished_.rend(); ++it)
    if (it->request_id == request_id) return *it;
  return std::nullopt;
}

size_t FrontDoor::Active() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

}  // namespace populi::inference
