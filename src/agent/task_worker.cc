#include "agent/task_worker.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>

#include "agent/runners/leftovers.h"
#include "client/http_client.h"
#include "mesh/json.h"
#include "mesh/task.h"
#include "mesh/task_json.h"

namespace populi::agent {
namespace json = boost::json;

struct TaskWorker::Assignment {
  std::string task_id;
  int32_t attempt = 0;
  std::string lease_id;
  int64_t fencing_token = 0;
  int64_t lease_ttl_ms = 15'000;
  std::vector<std::string> gpu_uuids;
  mesh::TaskSpec spec;
  std::mutex mu;
  runners::ExecRun* run = nullptr;  // while the process runs
  bool cancelled = false;           // Stop() asked to kill it
};

namespace {

Result<std::shared_ptr<TaskWorker::Assignment>> ParseAssignment(const std::string& payload);

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TaskWorker::TaskWorker(TaskWorkerOptions options, crypto::Ed25519KeyPair keys, RunningFn on_running,
                       std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      keys_(keys),
      on_running_(std::move(on_running)),
      logger_(logger ? std::move(logger) : spdlog::default_logger()) {}

TaskWorker::~TaskWorker() {
  Stop();
}

void TaskWorker::Start() {
  // Before anything is claimed: no copy of a task may run twice here.
  if (!options_.run_records_dir.empty()) {
    const runners::LeftoverSweep sweep = runners::KillLeftovers(options_.run_records_dir);
    if (sweep.records > 0) {
      logger_->warn("ended {} process(es) of {} attempt(s) an earlier run of this agent left",
                    sweep.processes, sweep.records);
    }
  }
  poller_ = std::thread([this] { PollLoop(); });
}

void TaskWorker::Stop() {
  std::map<uint64_t, std::thread> threads;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !poller_.joinable() && threads_.empty()) return;
    stopping_ = true;
    for (auto& [key, a] : running_) {
      std::lock_guard alock(a->mu);
      a->cancelled = true;
      if (a->run != nullptr) a->run->Kill("agent_stopping");
    }
  }
  cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
    finished_.clear();
  }
  for (auto& [id, t] : threads) t.join();
}

void TaskWorker::JoinFinished() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mu_);
    for (uint64_t id : finished_) {
      auto it = threads_.find(id);
      if (it == threads_.end()) continue;
      done.push_back(std::move(it->second));
      threads_.erase(it);
    }
    finished_.clear();
  }
  // Each has at most its return left to run.
  for (auto& t : done) t.join();
}

int TaskWorker::running() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(running_.size());
}

bool TaskWorker::Sleep(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

void TaskWorker::PublishRunning() {
  std::vector<probe::TaskReservation> reservations;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, a] : running_) {
      const auto& r = a->spec.resources;
      if (a->gpu_uuids.empty()) {
        reservations.push_back({a->task_id, "", 0, r.cpus, r.memory_bytes});
      }
      for (size_t i = 0; i < a->gpu_uuids.size(); ++i) {
        // CPU and memory are counted once, with the first GPU.
        reservations.push_back({a->task_id, a->gpu_uuids[i], r.gpu_memory_bytes,
                                i == 0 ? r.cpus : 0u, i == 0 ? r.memory_bytes : 0u});
      }
    }
  }
  if (on_running_) on_running_(std::move(reservations));
}

void TaskWorker::PollLoop() {
  client::HttpClient http(options_.control_url, options_.token);
  http.set_node_id(options_.node_id);
  if (!options_.tls_ca_file.empty()) http.set_tls_ca_file(options_.tls_ca_file);
  const std::string inbox = mesh::TaskInboxFor(options_.node_id);
  mesh::InboxRequest request;
  request.receiver = inbox;
  request.claimer_node_id = options_.node_id;
  request.max_messages = 8;
  request.wait_ms = options_.poll_wait_ms;
  request.lease_ms = 60'000;
  int64_t retry_ms = 250;
  for (;;) {
    JoinFinished();
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
    }
    if (stopping) {
      if (!request.ack_message_ids.empty()) {  // what the last poll took, not yet acknowledged
        mesh::AckRequest ack;
        ack.receiver = inbox;
        ack.message_ids = request.ack_message_ids;
        (void)http.Send("POST", "/v1/populi/a2a/ack", json::serialize(mesh::ToJson(ack)));
      }
      return;
    }
    // The assignments taken by the previous poll are acknowledged by this one, in the same
    // transaction as its claim (kept until a poll succeeds; acknowledging twice is harmless).
    auto response =
        http.Send("POST", "/v1/populi/a2a/inbox", json::serialize(mesh::ToJson(request)), {},
                  static_cast<int>(options_.poll_wait_ms + 10'000));
    if (!response.ok()) {
      // Not yet joined (403 until the first join lands) or unreachable: the heartbeat loop
      // reports reachability; here we only wait and retry.
      if (!Sleep(retry_ms)) return;
      retry_ms = std::min<int64_t>(retry_ms * 2, 5'000);
      continue;
    }
    retry_ms = 250;
    request.ack_message_ids.clear();
    boost::system::error_code ec;
    json::value v = json::parse(response->body, ec);
    if (ec || !v.is_object()) continue;
    const auto* messages = v.as_object().if_contains("messages");
    if (messages == nullptr || !messages->is_array()) continue;
    for (const auto& m : messages->as_array()) {
      auto msg = mesh::A2AMessageFromJson(m);
      if (!msg.ok()) continue;
      request.ack_message_ids.push_back(msg->id);
      if (msg->message_type != "task_submit") continue;
      auto a = ParseAssignment(msg->payload);
      if (!a.ok()) {
        logger_->warn("task assignment {} unreadable: {}", msg->id, a.status().message());
        continue;
      }
      const std::string key = (*a)->task_id + "#" + std::to_string((*a)->attempt);
      std::lock_guard lock(mu_);
      if (stopping_ || running_.count(key) != 0) continue;  // a redelivery of a running attempt
      running_[key] = *a;
      // The task's processes are forked by its ExecRun's own thread, which lives until they are
      // all gone (the supervisor's PR_SET_PDEATHSIG watches the forking thread), and RunAttempt
      // destroys its ExecRun only after Wait(). So this thread may end, and be joined, as soon
      // as RunAttempt returns: nothing is tied to it.
      const uint64_t id = next_thread_++;
      threads_.emplace(id, std::thread([this, id, a = *a] {
                         RunAttempt(a);
                         std::lock_guard done_lock(mu_);
                         finished_.push_back(id);
                       }));
    }
  }
}

void TaskWorker::RunAttempt(std::shared_ptr<Assignment> a) {
  const std::string key = a->task_id + "#" + std::to_string(a->attempt);
  client::HttpClient http(options_.control_url, options_.token);
  http.set_node_id(options_.node_id);
  if (!options_.tls_ca_file.empty()) http.set_tls_ca_file(options_.tls_ca_file);
  const std::string base = "/v1/populi/tasks/" + a->task_id;
  auto report = [&](json::object extra) {
    extra["attempt"] = a->attempt;
    extra["node_id"] = options_.node_id;
    extra["lease_id"] = a->lease_id;
    extra["fencing_token"] = a->fencing_token;
    return json::serialize(extra);
  };
  auto finish = [&] {
    {
      std::lock_guard lock(mu_);
      running_.erase(key);
    }
    PublishRunning();
  };
  // A lease that is gone: 404 (unknown or ended) or 409 (another holder, newer token, expired).
  auto lease_gone = [](const Status& s) {
    return s.code() == Code::kNotFound || s.code() == Code::kConflict ||
           s.code() == Code::kFailedPrecondition || s.code() == Code::kGone;
  };

  if (Status s = http.Send("POST", base + "/start", report({})).status(); !s.ok()) {
    logger_->info("task {} attempt {}: start refused ({}); not running it", a->task_id, a->attempt,
                  s.message());
    finish();
    return;
  }
  PublishRunning();

  mesh::Task task;
  task.id = a->task_id;
  task.spec = a->spec;
  runners::RunSpec spec = runners::RunSpecForTask(task, a->attempt, a->gpu_uuids);
  spec.scratch_root = options_.scratch_root;
  spec.run_records_dir = options_.run_records_dir;

  std::mutex out_mu;
  std::vector<std::pair<std::string, std::string>> pending_output;
  auto on_output = [&](runners::OutputStream stream, std::string_view chunk) {
    std::lock_guard lock(out_mu);
    const std::string name(runners::ToString(stream));
    if (!pending_output.empty() && pending_output.back().first == name &&
        pending_output.back().second.size() < 64 * 1024) {
      pending_output.back().second.append(chunk);
    } else {
      pending_output.emplace_back(name, std::string(chunk));
    }
  };
  bool lost = false;
  auto flush = [&]() {
    std::vector<std::pair<std::string, std::string>> chunks;
    {
      std::lock_guard lock(out_mu);
      chunks.swap(pending_output);
    }
    if (chunks.empty() || lost) return;
    json::array arr;
    for (auto& [stream, data] : chunks)
      arr.push_back(json::object{{"stream", stream}, {"data", data}});
    Status s = http.Send("POST", base + "/logs", report(json::object{{"chunks", std::move(arr)}}))
                   .status();
    if (lease_gone(s)) {
      lost = true;
    } else if (!s.ok()) {
      // The control plane is unreachable for now: keep the output, in order, for the next try.
      std::lock_guard lock(out_mu);
      chunks.insert(chunks.end(), std::make_move_iterator(pending_output.begin()),
                    std::make_move_iterator(pending_output.end()));
      pending_output = std::move(chunks);
    }
  };

  runners::RunResult result;
  auto started = runners::ExecRun::Start(spec, options_.policy, on_output);
  if (!started.ok()) {
    result.exit_code = -1;
    result.spawn_error = "refused: " + started.status().message();
    on_output(runners::OutputStream::kStderr,
              "populi: " + started.status().message() +
                  (started.status().hint().empty() ? "" : " (" + started.status().hint() + ")") +
                  "\n");
  } else {
    std::unique_ptr<runners::ExecRun> run = std::move(*started);
    {
      std::lock_guard lock(a->mu);
      a->run = run.get();
      if (a->cancelled) run->Kill("agent_stopping");
    }
    // The waiter wakes the loop at once when the process ends, so the result is not held back
    // by the output flush period.
    std::mutex done_mu;
    std::condition_variable done_cv;
    bool done = false;
    std::thread waiter([&] {
      runners::RunResult r = run->Wait();
      std::lock_guard lock(done_mu);
      result = std::move(r);
      done = true;
      done_cv.notify_all();
    });
    const int64_t renew_every = std::max<int64_t>(a->lease_ttl_ms / 3, 200);
    int64_t next_renew = SteadyMs() + renew_every;
    mesh::LeaseRequest renew;
    renew.lease_id = a->lease_id;
    renew.holder_node_id = options_.node_id;
    renew.ttl_ms = a->lease_ttl_ms;
    const std::string renew_body = json::serialize(mesh::ToJson(renew));
    for (;;) {
      {
        std::unique_lock lock(done_mu);
        if (done_cv.wait_for(lock, std::chrono::milliseconds(options_.log_flush_ms),
                             [&] { return done; })) {
          break;
        }
      }
      flush();
      if (!lost && SteadyMs() >= next_renew) {
        Status s = http.Send("POST", "/v1/populi/exec/lease/renew", renew_body, {},
                             static_cast<int>(renew_every))
                       .status();
        if (lease_gone(s)) lost = true;
        next_renew = SteadyMs() + renew_every;
      }
      if (lost) {
        logger_->info("task {} attempt {}: lease lost; killing its process group", a->task_id,
                      a->attempt);
        run->Kill("lease_lost");
        break;
      }
    }
    waiter.join();
    {
      std::lock_guard lock(a->mu);
      a->run = nullptr;
    }
  }
  {
    std::lock_guard lock(a->mu);
    if (a->cancelled) lost = true;  // stopping: the attempt is abandoned, not reported
  }
  flush();
  if (lost) {
    finish();
    return;
  }
  std::string error = result.spawn_error;
  if (error.empty() && result.timed_out) error = "timeout";
  if (error.empty() && result.term_signal != 0)
    error = "killed by signal " + std::to_string(result.term_signal);
  const int32_t exit_code = result.exit_code;
  const std::string signing = mesh::ResultSigningText(
      a->task_id, a->attempt, a->lease_id, a->fencing_token, exit_code, error,
      crypto::Sha256Hex(result.stdout_tail + "\n" + result.stderr_tail));
  json::object body{{"exit_code", exit_code},
                    {"error", error},
                    {"stdout_tail", result.stdout_tail},
                    {"stderr_tail", result.stderr_tail},
                    {"signature_b64", crypto::SignBase64(keys_, signing)}};
  const std::string result_body = report(std::move(body));
  // The result matters most: retry transient failures while the lease can still be live.
  const int64_t give_up = SteadyMs() + a->lease_ttl_ms;
  for (;;) {
    flush();  // output held back while the control plane was away goes first
    Status s = http.Send("POST", base + "/result", result_body).status();
    if (s.ok()) {
      logger_->info("task {} attempt {}: exit {} reported", a->task_id, a->attempt, exit_code);
      break;
    }
    if (lease_gone(s) || SteadyMs() >= give_up) {
      logger_->info("task {} attempt {}: result not accepted ({})", a->task_id, a->attempt,
                    s.message());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  finish();
}

namespace {

Result<std::shared_ptr<TaskWorker::Assignment>> ParseAssignment(const std::string& payload) {
  POPULI_ASSIGN_OR_RETURN(json::value v, mesh::ParseJson(payload));
  if (!v.is_object()) return InvalidArgument("assignment is not a JSON object");
  const json::object& o = v.as_object();
  auto a = std::make_shared<TaskWorker::Assignment>();
  auto str = [&](const char* k) -> std::string {
    const auto* f = o.if_contains(k);
    return f && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  auto num = [&](const char* k) -> int64_t {
    const auto* f = o.if_contains(k);
    return f && f->is_int64() ? f->as_int64() : 0;
  };
  a->task_id = str("task_id");
  a->attempt = static_cast<int32_t>(num("attempt"));
  a->lease_id = str("lease_id");
  a->fencing_token = num("fencing_token");
  if (num("lease_ttl_ms") > 0) a->lease_ttl_ms = num("lease_ttl_ms");
  if (const auto* gpus = o.if_contains("gpu_uuids"); gpus && gpus->is_array()) {
    for (const auto& g : gpus->as_array())
      if (g.is_string()) a->gpu_uuids.emplace_back(g.as_string());
  }
  const auto* spec = o.if_contains("spec");
  if (spec == nullptr) return InvalidArgument("assignment has no spec");
  POPULI_ASSIGN_OR_RETURN(a->spec, mesh::TaskSpecFromJson(*spec));
  if (a->task_id.empty() || a->attempt < 1 || a->lease_id.empty())
    return InvalidArgument("assignment lacks task_id, attempt or lease_id");
  return a;
}

}  // namespace

}  // namespace populi::agent
