#include "agent/task_worker.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "agent/attempt_session.h"
#include "agent/runners/leftovers.h"
#include "client/control_plane_api.h"
#include "crypto/secret.h"
#include "mesh/json.h"
#include "mesh/policy.h"
#include "mesh/task.h"
#include "mesh/task_json.h"

namespace populi::agent {

struct TaskWorker::Assignment : mesh::TaskAssignment {
  std::string traceparent;  // the delivering message's: this attempt's spans continue it
  int64_t message_id = 0;
  std::mutex mu;
  runners::ExecRun* run = nullptr;  // while the process runs
  bool cancelled = false;           // Stop() asked to kill it
};

namespace {

Result<std::shared_ptr<TaskWorker::Assignment>> ParseAssignment(const std::string& payload);

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
  client::ControlPlaneApi api(options_.control_url, options_.token);
  api.http().set_node_id(options_.node_id);
  if (!options_.tls_ca_file.empty()) api.http().set_tls_ca_file(options_.tls_ca_file);
  const std::string inbox = mesh::TaskInboxFor(options_.node_id);
  mesh::InboxRequest request;
  request.receiver = inbox;
  request.claimer_node_id = options_.node_id;
  request.max_messages = 8;
  request.wait_ms = options_.poll_wait_ms;
  request.lease_ms = 60'000;
  request.hold_liveness = true;  // this poll's connection stands for the agent's process
  int64_t retry_ms = 250;
  while (options_.joined && !options_.joined(500)) {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
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
        ack.claim_token = request.ack_claim_token;
        (void)api.Ack(ack);
      }
      return;
    }
    // The assignments taken by the previous poll are acknowledged by this one, in the same
    // transaction as its claim (kept until a poll succeeds; acknowledging twice is harmless).
    // The call's limit is the long-poll's wait plus a margin (ControlPlaneApi::Inbox).
    auto page = api.Inbox(request);
    if (!page.ok()) {
      // Not yet joined (403 until the first join lands) or unreachable: the heartbeat loop
      // reports reachability; here we only wait and retry. A reply that could not be read says
      // so (the same assignments are claimed again by the next poll).
      if (page.status().code() == Code::kInternal) {
        logger_->warn("task inbox: {}", page.status().message());
      }
      if (!Sleep(retry_ms)) return;
      retry_ms = std::min<int64_t>(retry_ms * 2, 5'000);
      continue;
    }
    retry_ms = 250;
    TakePage(*page, request);
  }
}

void TaskWorker::TakePage(const mesh::InboxPage& page, mesh::InboxRequest& request) {
  request.ack_message_ids.clear();
  request.ack_claim_token.clear();
  for (const mesh::A2AMessage& msg : page.messages) {
    request.ack_message_ids.push_back(msg.id);
    request.ack_claim_token = msg.claim_token;  // one claim, one token for the whole page
    if (msg.message_type != "task_submit") continue;
    auto a = ParseAssignment(msg.payload);
    if (!a.ok()) {
      logger_->warn("task assignment {} unreadable: {}", msg.id, a.status().message());
      continue;
    }
    (*a)->traceparent = msg.traceparent;
    (*a)->message_id = msg.id;
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

void TaskWorker::RunAttempt(std::shared_ptr<Assignment> a) {
  // task.run spans the attempt here, in the trace its assignment message carried; it is current
  // on this thread, so every report below (start, logs, renewals, result) continues it.
  obs::TraceContext delivered;
  if (auto parent = obs::ParseTraceparent(a->traceparent); parent.ok()) delivered = *parent;
  obs::ActiveSpan run_span(&spans_, "task.run", obs::SpanKind::kConsumer, delivered, "vox-agent",
                           options_.node_id);
  run_span.Set("vox.mesh.task_id", a->task_id)
      .Set("vox.mesh.attempt", static_cast<int64_t>(a->attempt))
      .Set("vox.mesh.node_id", options_.node_id)
      .Set("vox.mesh.lease_id", a->lease_id)
      .Set("vox.mesh.fencing_token", a->fencing_token)
      .Set("vox.mesh.message_id", a->message_id)
      .Set("vox.mesh.message_type", std::string("task_submit"));
  obs::ScopedContext current(run_span.context());
  AttemptSession session(options_, *a);
  if (Status s = session.ReportStart(); !s.ok()) {
    logger_->info("task {} attempt {}: start refused ({}); not running it", a->task_id, a->attempt,
                  s.message());
    run_span.SetError("start refused: " + s.message());
    run_span.End();
    session.SendSpans(spans_.Take());
    FinishAttempt(*a);
    return;
  }
  PublishRunning();
  runners::RunResult result = RunProcess(*a, session, run_span.context());
  {
    std::lock_guard lock(a->mu);
    if (a->cancelled) session.MarkLost();  // stopping: the attempt is abandoned, not reported
  }
  session.Flush();
  if (!session.lost()) session.ReportResult(result, keys_, *logger_);
  run_span.Set("vox.mesh.exit_code", static_cast<int64_t>(result.exit_code));
  if (session.lost()) run_span.SetError("lease lost");
  run_span.End();
  session.SendSpans(spans_.Take());
  FinishAttempt(*a);
}

void TaskWorker::FinishAttempt(const Assignment& a) {
  {
    std::lock_guard lock(mu_);
    running_.erase(a.task_id + "#" + std::to_string(a.attempt));
  }
  PublishRunning();
}

runners::RunResult TaskWorker::RunProcess(Assignment& a, AttemptSession& session,
                                          const obs::TraceContext& run_context) {
  auto on_output = [&session](runners::OutputStream stream, std::string_view chunk) {
    session.OnOutput(stream, chunk);
  };
  // The worker re-checks its own donation policy: the control plane's view may be older.
  mesh::NodeRecord self;
  self.id = options_.node_id;
  self.donation = options_.donation;
  const std::string refusal = mesh::DonationRefusal(self, a.spec);
  Status refused = refusal.empty()
                       ? Status::Ok()
                       : Status(Code::kPermissionDenied, refusal, "[mesh.donation] on this node");
  std::map<std::string, std::string> secrets;
  if (refused.ok() && !a.spec.secret_names.empty()) {
    auto fetched = FetchTaskSecrets(a, session, run_context);
    if (fetched.ok()) {
      secrets = std::move(*fetched);
    } else {
      refused = fetched.status();
    }
  }
  mesh::Task task;
  task.id = a.task_id;
  task.spec = a.spec;
  runners::RunSpec spec = runners::RunSpecForTask(task, a.attempt, a.gpu_uuids);
  spec.scratch_root = options_.scratch_root;
  spec.run_records_dir = options_.run_records_dir;
  // task.process spans the task's own process; its context is the process's TRACEPARENT, so
  // user code that traces continues this trace under it.
  obs::ActiveSpan process_span(&spans_, "task.process", obs::SpanKind::kInternal, run_context,
                               "vox-agent", options_.node_id);
  for (const auto& [name, value] : secrets) spec.env[name] = value;
  spec.env["TRACEPARENT"] = process_span.context().Traceparent();
  if (!run_context.tracestate.empty()) spec.env["TRACESTATE"] = run_context.tracestate;
  auto started = [&] {
    obs::ActiveSpan start_span(&spans_, "runner.start", obs::SpanKind::kInternal, run_context,
                               "vox-agent", options_.node_id);
    start_span.Set("vox.mesh.runner", std::string("exec"));
    auto s = refused.ok() ? runners::ExecRun::Start(spec, options_.policy, on_output)
                          : Result<std::unique_ptr<runners::ExecRun>>(refused);
    if (!s.ok()) start_span.SetError(s.status().message());
    return s;
  }();
  // The values now live only in the child's environment.
  for (auto& [name, value] : secrets) crypto::Wipe(value);
  for (const auto& [name, value] : secrets) crypto::Wipe(spec.env[name]);
  if (!started.ok()) {
    process_span.SetError("not started");
    runners::RunResult result;
    result.exit_code = -1;
    result.spawn_error = "refused: " + started.status().message();
    on_output(runners::OutputStream::kStderr,
              "populi: " + started.status().message() +
                  (started.status().hint().empty() ? "" : " (" + started.status().hint() + ")") +
                  "\n");
    return result;
  }
  std::unique_ptr<runners::ExecRun> run = std::move(*started);
  {
    std::lock_guard lock(a.mu);
    a.run = run.get();
    if (a.cancelled) run->Kill("agent_stopping");
  }
  runners::RunResult result = Supervise(a, *run, session);
  process_span.Set("vox.mesh.exit_code", static_cast<int64_t>(result.exit_code));
  if (result.exit_code != 0) process_span.SetError("exit code " + std::to_string(result.exit_code));
  std::lock_guard lock(a.mu);
  a.run = nullptr;
  return result;
}

Result<std::map<std::string, std::string>> TaskWorker::FetchTaskSecrets(
    const Assignment& a, AttemptSession& session, const obs::TraceContext& run_context) {
  obs::ActiveSpan span(&spans_, "secrets.fetch", obs::SpanKind::kInternal, run_context, "vox-agent",
                       options_.node_id);
  span.Set("vox.mesh.secret_count", static_cast<int64_t>(a.spec.secret_names.size()))
      .Set("vox.mesh.submitter_node_id", a.spec.submitter_node_id);
  client::ControlPlaneApi api(options_.control_url, options_.token);
  api.http().set_node_id(options_.node_id);
  if (!options_.tls_ca_file.empty()) api.http().set_tls_ca_file(options_.tls_ca_file);
  auto values = FetchSecrets(api, options_.secrets, a, [&session] {
    session.RenewIfDue();
    return !session.lost();
  });
  if (!values.ok()) span.SetError(values.status().message());
  return values;
}

runners::RunResult TaskWorker::Supervise(const Assignment& a, runners::ExecRun& run,
                                         AttemptSession& session) {
  // The waiter wakes the loop at once when the process ends, so the result is not held back by
  // the output flush period.
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  runners::RunResult result;
  std::thread waiter([&] {
    runners::RunResult r = run.Wait();
    std::lock_guard lock(done_mu);
    result = std::move(r);
    done = true;
    done_cv.notify_all();
  });
  for (;;) {
    {
      std::unique_lock lock(done_mu);
      if (done_cv.wait_for(lock, std::chrono::milliseconds(options_.log_flush_ms),
                           [&] { return done; })) {
        break;
      }
    }
    session.Flush();
    session.RenewIfDue();
    if (session.lost()) {
      logger_->info("task {} attempt {}: lease lost; killing its processes", a.task_id, a.attempt);
      run.Kill("lease_lost");
      break;
    }
  }
  waiter.join();
  return result;
}

namespace {

Result<std::shared_ptr<TaskWorker::Assignment>> ParseAssignment(const std::string& payload) {
  POPULI_ASSIGN_OR_RETURN(boost::json::value v, mesh::ParseJson(payload));
  POPULI_ASSIGN_OR_RETURN(mesh::TaskAssignment wire, mesh::TaskAssignmentFromJson(v));
  auto a = std::make_shared<TaskWorker::Assignment>();
  static_cast<mesh::TaskAssignment&>(*a) = std::move(wire);
  if (a->lease_ttl_ms <= 0) a->lease_ttl_ms = 15'000;
  return a;
}

}  // namespace

}  // namespace populi::agent
