// The node's half of the front door's relay (docs/inference.md, "Relay"): agents never listen,
// so the worker holds a long-poll for this node's next inference job
// (GET /v1/populi/inference/nodes/{node}/next) on every control-plane URL it was given — one
// thread and one backoff each, so every replica can hand this node a job — and runs each job on
// a thread of its own: it calls the local engine the job names — one of [mesh.inference]
// endpoints, never another URL — on the same OpenAI route with the client's body, and posts the
// answer back as it arrives (each server-sent event as it comes; a whole body at once when not
// streamed) to the URL the job came from, never another: the request lives in that replica's
// memory alone. At most max_jobs run at once over all polls: a poll holds a slot while it is
// open, so with every slot taken no replica is polled.
//
// Failures are posted, never swallowed: no answer from the engine is status 0 with the error, a
// non-2xx answer its status and body, a stream that breaks off its error with done. When the
// control plane says the answer is no longer wanted (the client went away, another node took
// over) — in a chunk's reply, or, before any output, through a watch on the job that a job still
// running after a moment holds — the engine request is ended by closing its connection. Stop()
// ends the engine requests in progress the same way.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/engine_source.h"
#include "mesh/inference.h"

namespace spdlog {
class logger;
}

namespace populi::agent {

struct InferenceWorkerOptions {
  std::string control_url;  // one URL, or several separated by commas (one poll each)
  std::string token;
  std::string tls_ca_file;
  std::string node_id;
  std::vector<EngineEndpoint> engines;  // nothing to serve when empty: the worker does not start
  int64_t poll_wait_ms = 10'000;        // how long one job poll is held
  int64_t backoff_base_ms = 500;
  int64_t backoff_cap_ms = 10'000;
  size_t max_jobs = 32;  // jobs run at once, over all polls; more wait for one to finish
  // Polling starts once this says the node has joined; called with a wait in ms. Empty: at once.
  std::function<bool(int64_t)> joined;
};

struct InferenceWorkerStats {
  int64_t jobs = 0;
  int64_t failed = 0;     // jobs whose engine gave no usable answer
  int64_t cancelled = 0;  // engine requests ended on the control plane's word
};

class InferenceWorker {
 public:
  InferenceWorker(InferenceWorkerOptions options, std::shared_ptr<spdlog::logger> logger);
  ~InferenceWorker();  // Stop()
  InferenceWorker(const InferenceWorker&) = delete;
  InferenceWorker& operator=(const InferenceWorker&) = delete;

  void Start();
  // Asks the threads to stop without waiting: the held polls and the engine calls in progress
  // are ended at once (their connections closed); Stop() then waits. Lets a caller stop several
  // parts of the agent at once.
  void RequestStop();
  void Stop();  // idempotent; waits for running jobs (their engine requests are ended)
  InferenceWorkerStats stats() const;

 private:
  struct Running;
  struct Poll;
  void Loop(Poll& poll);
  void RunJob(const mesh::InferenceJob& job, const std::string& control_url, Running& running);
  bool Sleep(int64_t ms);
  void ReapFinished();

  InferenceWorkerOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> stop_jobs_{false};
  InferenceWorkerStats stats_;
  size_t polling_ = 0;  // slots held by polls under way (running_.size() + polling_ ≤ max_jobs)
  std::list<Running> running_;
  std::vector<std::unique_ptr<Poll>> polls_;  // one per control-plane URL
};

}  // namespace populi::agent
