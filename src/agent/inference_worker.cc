#include "agent/inference_worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include "agent/backoff.h"
#include "client/control_plane_api.h"
#include "client/http_client.h"
#include "mesh/inference_json.h"
#include "util/clock.h"

namespace populi::agent {

struct InferenceWorker::Running {
  std::thread thread;
  bool finished = false;
  client::HttpClient* engine = nullptr;  // the job's engine call while it runs (under mu_)
};

struct InferenceWorker::Poll {
  Poll(std::string u, uint64_t seed, const InferenceWorkerOptions& o)
      : url(std::move(u)), api(url, o.token), backoff(o.backoff_base_ms, o.backoff_cap_ms, seed) {
    api.http().set_node_id(o.node_id);
    if (!o.tls_ca_file.empty()) api.http().set_tls_ca_file(o.tls_ca_file);
  }
  std::string url;  // one control plane (replica)
  // Used by this poll's thread alone, but for RequestStop(), which aborts its held poll.
  client::ControlPlaneApi api;
  Backoff backoff;  // used by this poll's thread alone
  std::thread thread;
};

namespace {

const EngineEndpoint* FindEngine(const std::vector<EngineEndpoint>& engines,
                                 const std::string& url) {
  for (const auto& e : engines)
    if (e.url == url) return &e;
  return nullptr;
}

int64_t NowMs() {
  return SystemClock::Instance().NowMs();
}

// Posts the chunks of one job in order; remembers a cancel. Streamed events are posted by a
// sender thread of their own: whatever arrived while the previous post was under way goes in the
// next one, so a fast engine costs fewer posts than tokens and never waits on the control plane.
class ChunkPoster {
 public:
  ChunkPoster(client::ControlPlaneApi& api, std::string job_id)
      : api_(api), job_id_(std::move(job_id)) {}
  ~ChunkPoster() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (sender_.joinable()) sender_.join();
  }

  // Tells the control plane this node is on the job (a chunk with no status, no events), from
  // the sender thread: the engine call starts meanwhile instead of after a round trip.
  void Taken() {
    std::lock_guard lock(mu_);
    if (!sender_.joinable()) sender_ = std::thread([this] { Send(); });
    taken_pending_ = true;
    cv_.notify_all();
  }

  // Queues a streamed event (the engine answered 2xx). False once the answer is not wanted.
  bool Queue(std::string event) {
    std::lock_guard lock(mu_);
    if (!sender_.joinable()) sender_ = std::thread([this] { Send(); });
    pending_.push_back(std::move(event));
    cv_.notify_all();
    return !cancelled_.load();
  }

  // Posts one chunk after every queued event. False once the answer is not wanted (cancel, or
  // the control plane unreachable).
  bool Post(int status, std::vector<std::string> events, bool done, std::string error = {}) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return pending_.empty() && !sending_ && !taken_pending_; });
    }
    return PostNow(status, std::move(events), done, std::move(error));
  }
  bool cancelled() const { return cancelled_.load(); }

 private:
  bool PostNow(int status, std::vector<std::string> events, bool done, std::string error) {
    if (cancelled_.load()) return false;
    mesh::InferenceChunk c;
    c.job_id = job_id_;
    c.seq = seq_++;
    c.status = status;
    c.events = std::move(events);
    c.done = done;
    c.error = std::move(error);
    auto reply = api_.PostInferenceChunk(c);
    if (!reply.ok() || reply->cancel) cancelled_.store(true);
    return !cancelled_.load();
  }

  void Send() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || taken_pending_ || !pending_.empty(); });
      if (taken_pending_) {
        taken_pending_ = false;
        sending_ = true;
        lock.unlock();
        PostNow(0, {}, false, {});
        lock.lock();
        sending_ = false;
        cv_.notify_all();
        continue;
      }
      if (pending_.empty()) return;
      std::vector<std::string> batch;
      const size_t n = std::min(pending_.size(), mesh::kMaxChunkEvents);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      sending_ = true;
      lock.unlock();
      PostNow(200, std::move(batch), false, {});
      lock.lock();
      sending_ = false;
      if (cancelled_.load()) pending_.clear();
      cv_.notify_all();
    }
  }

  client::ControlPlaneApi& api_;
  std::string job_id_;
  int64_t seq_ = 0;  // used by one poster at a time: Post waits for the sender to be idle
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> pending_;
  bool sending_ = false;
  bool taken_pending_ = false;  // Taken() was called and its chunk is not sent yet
  bool stopping_ = false;
  std::thread sender_;
};

// A job's watch for the control plane saying its answer is no longer wanted (the client went
// away, the deadline passed, another node took over), which aborts the engine call. Before the
// engine's first output nothing else could say so: a chunk's reply is the other channel. It
// calls only once the job has run kWatchAfterMs, so a quick answer costs no extra call, and on
// a connection of its own, to the control plane the job came from.
class CancelWatch {
 public:
  static constexpr int64_t kWatchAfterMs = 250;
  static constexpr int64_t kWaitMs = 10'000;
  static constexpr int64_t kRetryMs = 1'000;

  CancelWatch(const InferenceWorkerOptions& options, const std::string& control_url,
              std::string job_id, client::HttpClient& engine)
      : api_(control_url, options.token), job_id_(std::move(job_id)), engine_(engine) {
    api_.http().set_node_id(options.node_id);
    if (!options.tls_ca_file.empty()) api_.http().set_tls_ca_file(options.tls_ca_file);
    thread_ = std::thread([this] { Run(); });
  }
  ~CancelWatch() { Stop(); }
  CancelWatch(const CancelWatch&) = delete;
  CancelWatch& operator=(const CancelWatch&) = delete;

  // The job is over: ends the watch (and its call in progress). Idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    api_.http().Abort();
    if (thread_.joinable()) thread_.join();
  }
  // The control plane said the answer is not wanted; the engine call was aborted.
  bool fired() const { return fired_.load(); }

 private:
  // False when the job ended during the wait.
  bool Pause(int64_t ms) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return done_; });
  }

  void Run() {
    if (!Pause(kWatchAfterMs)) return;
    for (;;) {
      auto reply = api_.WaitInferenceCancel(job_id_, kWaitMs);
      if (api_.http().aborted()) return;
      if (reply.ok() && reply->cancel) {
        fired_.store(true);
        engine_.Abort();
        return;
      }
      if (!reply.ok() && !Pause(kRetryMs)) return;
    }
  }

  client::ControlPlaneApi api_;
  std::string job_id_;
  client::HttpClient& engine_;
  std::atomic<bool> fired_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

InferenceWorker::InferenceWorker(InferenceWorkerOptions options,
                                 std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      logger_(logger ? std::move(logger) : spdlog::default_logger()) {}

InferenceWorker::~InferenceWorker() {
  Stop();
}

void InferenceWorker::Start() {
  if (options_.engines.empty() || !polls_.empty()) return;  // no engine: nothing to relay to
  // The URL list as every client reads it (client::HttpClient splits and trims it).
  const std::vector<std::string> urls = client::HttpClient(options_.control_url).urls();
  const uint64_t seed = static_cast<uint64_t>(NowMs()) ^ (static_cast<uint64_t>(::getpid()) << 21);
  for (size_t i = 0; i < urls.size(); ++i)
    polls_.push_back(std::make_unique<Poll>(urls[i], seed + 0x9e3779b97f4a7c15ULL * i, options_));
  for (auto& p : polls_) p->thread = std::thread([this, poll = p.get()] { Loop(*poll); });
}

void InferenceWorker::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_jobs_.store(true);
  {
    // Ends the engine calls in progress: a job waiting on a slow engine does not hold Stop().
    std::lock_guard lock(mu_);
    for (auto& r : running_)
      if (r.engine != nullptr) r.engine->Abort();
  }
  // Ends the held job polls: Stop() does not wait out poll_wait_ms.
  for (auto& p : polls_) p->api.http().Abort();
  cv_.notify_all();
}

void InferenceWorker::Stop() {
  RequestStop();
  for (auto& p : polls_)
    if (p->thread.joinable()) p->thread.join();
  std::list<Running> running;
  {
    std::lock_guard lock(mu_);
    running.swap(running_);
  }
  for (auto& r : running)
    if (r.thread.joinable()) r.thread.join();
}

InferenceWorkerStats InferenceWorker::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool InferenceWorker::Sleep(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

void InferenceWorker::ReapFinished() {
  std::list<Running> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->finished) {
        auto next = std::next(it);
        done.splice(done.end(), running_, it);
        it = next;
      } else {
        ++it;
      }
    }
  }
  for (auto& r : done) r.thread.join();
}

void InferenceWorker::Loop(Poll& poll) {
  if (options_.joined) {
    while (!options_.joined(1'000)) {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
  }
  client::ControlPlaneApi& api = poll.api;
  for (;;) {
    ReapFinished();
    {
      // An open poll holds a job slot: a job it brings can always run.
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] {
        return stopping_ || running_.size() + polling_ < std::max<size_t>(options_.max_jobs, 1);
      });
      if (stopping_) return;
      ++polling_;
    }
    auto job = api.NextInferenceJob(options_.node_id, options_.poll_wait_ms);
    std::unique_lock lock(mu_);
    --polling_;
    cv_.notify_all();       // the slot is free again unless a job takes it below
    if (stopping_) return;  // a job not started here fails over when nobody posts for it
    if (!job.ok()) {
      lock.unlock();
      const int64_t delay = poll.backoff.NextDelayMs();
      logger_->info("inference job poll at {} failed ({}); try {} in {} ms", poll.url,
                    job.status().ToString(), poll.backoff.failures(), delay);
      if (!Sleep(delay)) return;
      continue;
    }
    poll.backoff.Reset();
    if (!*job) continue;
    ++stats_.jobs;
    running_.emplace_back();
    Running& r = running_.back();
    r.thread = std::thread([this, &r, j = std::move(**job), url = poll.url] {
      RunJob(j, url, r);
      std::lock_guard done_lock(mu_);
      r.finished = true;
      cv_.notify_all();
    });
  }
}

void InferenceWorker::RunJob(const mesh::InferenceJob& job, const std::string& control_url,
                             Running& running) {
  // Only the replica that handed the job out knows its request: no failover to another URL.
  client::ControlPlaneApi api(control_url, options_.token);
  api.http().set_node_id(options_.node_id);
  if (!options_.tls_ca_file.empty()) api.http().set_tls_ca_file(options_.tls_ca_file);
  ChunkPoster poster(api, job.id);
  const EngineEndpoint* engine = FindEngine(options_.engines, job.endpoint);
  if (engine == nullptr) {
    poster.Post(0, {}, true, "engine " + job.endpoint + " is not one of this node's endpoints");
    std::lock_guard lock(mu_);
    ++stats_.failed;
    return;
  }
  // Taken: tells the control plane this node is on it, so a slow first token is not mistaken
  // for a job nobody picked up.
  poster.Taken();
  client::HttpClient http(engine->origin);
  struct Registered {  // Stop() may abort the engine call while it runs
    InferenceWorker& worker;
    Running& running;
    Registered(InferenceWorker& w, Running& r, client::HttpClient& engine) : worker(w), running(r) {
      std::lock_guard lock(worker.mu_);
      running.engine = &engine;
      if (worker.stop_jobs_.load()) engine.Abort();
    }
    ~Registered() {
      std::lock_guard lock(worker.mu_);
      running.engine = nullptr;
    }
  } registered(*this, running, http);
  CancelWatch watch(options_, control_url, job.id, http);
  const std::string path = engine->prefix + "/v1/" + std::string(mesh::ToString(job.route));
  const int timeout =
      static_cast<int>(std::clamp<int64_t>(job.deadline_ms - NowMs(), 1, 3'600'000));
  // The engine's answer: streamed events went out as they came (poster.Queue); what is left to
  // post is the end, or the whole answer when not streamed.
  Result<client::ClientResponse> answer =
      job.stream ? http.SendForEvents(
                       "POST", path, job.body,
                       [&](const client::SseEvent& e) {
                         if (stop_jobs_.load()) return false;
                         // [DONE]: the control plane ends the client's stream itself
                         return e.data == "[DONE]" || poster.Queue(e.data);
                       },
                       timeout)
                 : http.SendRaw("POST", path, job.body, {}, timeout);
  watch.Stop();
  if (poster.cancelled() || watch.fired()) {
    std::lock_guard lock(mu_);
    ++stats_.cancelled;
    return;
  }
  bool failed = true;
  if (stop_jobs_.load()) {
    poster.Post(0, {}, true, "the node's agent is stopping");
  } else if (!answer.ok()) {
    poster.Post(0, {}, true, "engine " + engine->url + ": " + answer.status().message());
  } else if (const bool ok = answer->status >= 200 && answer->status < 300; job.stream && ok) {
    failed = false;
    poster.Post(answer->status, {}, true);
  } else {
    // A streamed request answered without a stream failed; a whole answer failed only when
    // the engine was busy or broken (a 4xx is the client's).
    failed = job.stream || answer->status == 429 || answer->status >= 500;
    poster.Post(answer->status, {answer->body}, true);
  }
  if (failed) {
    std::lock_guard lock(mu_);
    ++stats_.failed;
  }
}

}  // namespace populi::agent
