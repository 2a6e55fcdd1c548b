#include "agent/runners/exec_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

#include "agent/runners/launch.h"
#include "agent/runners/leftovers.h"
#include "agent/runners/supervisor.h"
#include "util/clock.h"

namespace populi::runners {

namespace {

constexpr char kDescriptorHint[] =
    "the agent may be out of file descriptors: raise its open-files limit (ulimit -n)";

// After the task's processes are gone, how long output is still read before the pipes are
// abandoned (only something outside the task's process tree can hold them open that long).
constexpr int64_t kDrainAfterExitMs = 1000;

int64_t NowMs() {
  return SystemClock::Instance().MonotonicMs();
}

// The last `cap` bytes of a stream, and how many came before them.
class TailBuffer {
 public:
  explicit TailBuffer(uint64_t cap) : cap_(cap) {}
  void Append(std::string_view chunk) {
    total_ += chunk.size();
    data_.append(chunk);
    // Trim in batches so a long stream costs linear time.
    if (data_.size() > 2 * cap_ + (64 << 10)) Trim();
  }
  std::string Take() {
    Trim();
    return std::move(data_);
  }
  uint64_t truncated() const { return total_ - std::min<uint64_t>(total_, cap_); }

 private:
  void Trim() {
    if (data_.size() > cap_) data_.erase(0, data_.size() - cap_);
  }
  uint64_t cap_;
  uint64_t total_ = 0;
  std::string data_;
};

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string_view ToString(OutputStream s) {
  return s == OutputStream::kStdout ? "stdout" : "stderr";
}

Result<ExecMode> ParseExecMode(std::string_view s) {
  if (s == "strict") return ExecMode::kStrict;
  if (s == "open" || s == "permissive") return ExecMode::kOpen;
  return InvalidArgument("unknown exec mode \"" + std::string(s) + "\"",
                         "use strict or permissive");
}

Result<Sandbox> ParseSandbox(std::string_view s) {
  if (s == "none") return Sandbox::kNone;
  if (s == "bwrap") return Sandbox::kBwrap;
  return InvalidArgument("unknown sandbox \"" + std::string(s) + "\"", "use none or bwrap");
}

RunSpec RunSpecForTask(const mesh::Task& task, int32_t attempt_number,
                       std::vector<std::string> gpu_uuids) {
  RunSpec spec;
  spec.task_id = task.id;
  spec.attempt = attempt_number;
  spec.command = task.spec.command;
  spec.args = task.spec.args;
  spec.env = task.spec.env;
  spec.working_dir = task.spec.working_dir;
  spec.timeout_ms = task.spec.timeout_ms;
  spec.gpus_requested = task.spec.resources.gpus;
  spec.gpu_uuids = std::move(gpu_uuids);
  return spec;
}

namespace {

// What Start() settles before it creates anything: the program (nullopt: not found on the PATH
// the task will see), the agent's own PATH, and bwrap's path when the run is sandboxed.
struct LaunchPlan {
  std::string agent_path;
  std::optional<std::string> program;
  std::string bwrap;
};

Result<LaunchPlan> PlanLaunch(const RunSpec& spec, const ExecPolicy& policy) {
  POPULI_RETURN_IF_ERROR(internal::ValidateSpec(spec));
  LaunchPlan plan;
  plan.agent_path = internal::AgentPath();
  const auto child_path = spec.env.find("PATH");
  plan.program = internal::ResolveCommand(
      spec.command, child_path != spec.env.end() ? child_path->second : plan.agent_path,
      spec.working_dir);
  POPULI_RETURN_IF_ERROR(
      internal::CheckPolicy(policy, spec.command, plan.program, plan.agent_path));
  if (policy.sandbox == Sandbox::kBwrap) {
    POPULI_ASSIGN_OR_RETURN(plan.bwrap, internal::FindBwrap(policy, plan.agent_path));
  }
  return plan;
}

// A run that ends before it starts, reported the way a shell would (127, 126).
struct EarlyEnd {
  std::string error;
  int exit_code = 0;
};

std::optional<EarlyEnd> WhyItCannotStart(const RunSpec& spec, const LaunchPlan& plan) {
  if (!plan.program) return EarlyEnd{"command not found: " + spec.command, kExitCommandNotFound};
  if (!spec.working_dir.empty()) {
    struct stat st {};
    const bool exists = ::stat(spec.working_dir.c_str(), &st) == 0;
    if (!exists || !S_ISDIR(st.st_mode)) {
      const std::string why = exists ? "Not a directory" : std::strerror(errno);
      return EarlyEnd{"working dir: " + spec.working_dir + ": " + why, kExitCannotExecute};
    }
  }
  return std::nullopt;
}

// The child's program, arguments, environment, directory and limits (the pipes come later).
internal::ChildSetup ChildSetupFor(const RunSpec& spec, const LaunchPlan& plan,
                                   const std::string& scratch_dir) {
  internal::ChildSetup setup;
  setup.cwd = spec.working_dir.empty() ? scratch_dir : spec.working_dir;
  setup.envp = internal::ChildEnvironment(spec, plan.agent_path, scratch_dir);
  setup.limits = internal::PrepareLimits(spec.limits);
  if (plan.bwrap.empty()) {
    setup.program = *plan.program;
    setup.argv.push_back(spec.command);
    setup.argv.insert(setup.argv.end(), spec.args.begin(), spec.args.end());
  } else {
    setup.program = plan.bwrap;
    setup.argv = internal::BwrapArgv(plan.bwrap, scratch_dir, setup.cwd, *plan.program, spec.args);
  }
  return setup;
}

}  // namespace

// Everything the runner's thread needs; built by Start().
struct ExecRun::Launch {
  explicit Launch(const RunSpec& spec)
      : command(spec.command),
        timeout_ms(spec.timeout_ms),
        kill_grace_ms(spec.kill_grace_ms),
        keep_scratch(spec.keep_scratch),
        run_records_dir(spec.run_records_dir),
        task_id(spec.task_id),
        attempt(spec.attempt),
        tails{TailBuffer(spec.output_cap_bytes), TailBuffer(spec.output_cap_bytes)} {}

  // The task's stdout and stderr pipes: write ends to the child, read ends non-blocking here.
  Status OpenPipes() {
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
      return Unavailable("pipe: " + std::string(std::strerror(errno)), kDescriptorHint);
    stdout_read = out_pipe[0];
    setup.stdout_fd = out_pipe[1];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0)
      return Unavailable("pipe: " + std::string(std::strerror(errno)), kDescriptorHint);
    stderr_read = err_pipe[0];
    setup.stderr_fd = err_pipe[1];
    ::fcntl(stdout_read, F_SETFL, O_NONBLOCK);
    ::fcntl(stderr_read, F_SETFL, O_NONBLOCK);
    return Status::Ok();
  }

  internal::ChildSetup setup;
  std::string command;
  int stdout_read = -1;
  int stderr_read = -1;
  int64_t timeout_ms = 0;
  int64_t kill_grace_ms = 0;
  bool keep_scratch = false;
  std::string run_records_dir;
  std::string task_id;
  int32_t attempt = 0;
  std::promise<Status> spawned;  // ok once the program runs or has failed to start
  internal::SpawnOutcome task;   // the supervisor and its pipes, the task's pid
  TailBuffer tails[2] = {TailBuffer(0), TailBuffer(0)};

  ~Launch() {
    CloseFd(setup.stdout_fd);
    CloseFd(setup.stderr_fd);
    CloseFd(stdout_read);
    CloseFd(stderr_read);
    CloseFd(task.control_fd);
    CloseFd(task.report_fd);
  }
};

Result<std::unique_ptr<ExecRun>> ExecRun::Start(RunSpec spec, ExecPolicy policy,
                                                OutputFn on_output) {
  POPULI_ASSIGN_OR_RETURN(const LaunchPlan plan, PlanLaunch(spec, policy));
  std::unique_ptr<ExecRun> run(new ExecRun());
  run->on_output_ = std::move(on_output);
  if (std::optional<EarlyEnd> early = WhyItCannotStart(spec, plan)) {
    run->result_.spawn_error = std::move(early->error);
    run->result_.exit_code = early->exit_code;
    run->result_.started_ms = run->result_.ended_ms = NowMs();
    run->done_ = true;
    return run;
  }

  POPULI_ASSIGN_OR_RETURN(
      run->scratch_dir_, internal::CreateScratchDir(spec.scratch_root, spec.task_id, spec.attempt));
  run->result_.scratch_dir = run->scratch_dir_;
  auto launch = std::make_unique<Launch>(spec);
  launch->setup = ChildSetupFor(spec, plan, run->scratch_dir_);
  auto fail = [&](Status status) -> Status {
    (void)internal::RemoveScratchDir(run->scratch_dir_);
    return status;
  };
  if (Status piped = launch->OpenPipes(); !piped.ok()) return fail(piped);
  run->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (run->wake_fd_ < 0)
    return fail(Unavailable("eventfd: " + std::string(std::strerror(errno)), kDescriptorHint));

  // The supervisor is forked from the runner's thread, which lives until it has reaped it: the
  // supervisor's PR_SET_PDEATHSIG watches the thread that forked it, not the agent as a whole.
  std::future<Status> spawned = launch->spawned.get_future();
  ExecRun* self = run.get();
  run->thread_ = std::thread([self, l = std::move(launch)]() mutable { self->Supervise(l.get()); });
  Status status = spawned.get();
  if (!status.ok()) {
    run->thread_.join();
    return fail(status);
  }
  return run;
}

void ExecRun::Supervise(Launch* launch) {
  RunResult result;
  result.scratch_dir = scratch_dir_;
  result.started_ms = NowMs();
  // This thread forks the supervisor and lives until it has been reaped, which is what the
  // supervisor's PR_SET_PDEATHSIG (tied to the forking thread) needs.
  launch->task = internal::Spawn(launch->setup, launch->command);
  CloseFd(launch->setup.stdout_fd);  // only the task writes now: EOF when its processes end
  CloseFd(launch->setup.stderr_fd);
  if (!launch->task.failure.ok()) {
    launch->spawned.set_value(launch->task.failure);
    return;
  }
  pid_ = launch->task.pid;
  const pid_t supervisor = launch->task.supervisor;
  // Recorded before Start() returns, so a run that has started is always on record.
  const bool record = supervisor > 0 && !launch->run_records_dir.empty();
  if (record) {
    (void)WriteRunRecord(launch->run_records_dir,
                         RecordFor(supervisor, pid_, launch->task_id, launch->attempt));
  }
  if (launch->task.report_fd >= 0) ::fcntl(launch->task.report_fd, F_SETFL, O_NONBLOCK);
  launch->spawned.set_value(Status::Ok());

  if (!launch->task.spawn_error.empty()) {
    result.spawn_error = launch->task.spawn_error;
    result.exit_code = launch->task.exit_code;
  } else {
    Watch(launch, result);
  }
  if (record) RemoveRunRecord(launch->run_records_dir, supervisor);
  if (result.ended_ms == 0) result.ended_ms = NowMs();
  result.stdout_tail = launch->tails[0].Take();
  result.stderr_tail = launch->tails[1].Take();
  result.stdout_truncated_bytes = launch->tails[0].truncated();
  result.stderr_truncated_bytes = launch->tails[1].truncated();
  if (!launch->keep_scratch) (void)internal::RemoveScratchDir(scratch_dir_);
  Finish(std::move(result));
}

void ExecRun::ReadOutput(Launch* launch, int stream, std::string& buffer, bool& output_ok) {
  int& fd = stream == 0 ? launch->stdout_read : launch->stderr_read;
  while (fd >= 0) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      const std::string_view chunk(buffer.data(), static_cast<size_t>(n));
      launch->tails[stream].Append(chunk);
      if (output_ok) {
        try {
          on_output_(stream == 0 ? OutputStream::kStdout : OutputStream::kStderr, chunk);
        } catch (...) {
          output_ok = false;  // a throwing callback gets no more output
        }
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EOF (or a broken pipe): this stream is finished.
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) CloseFd(fd);
    break;
  }
}

// The supervisor's reports after Started: Exited with the task's status once every process of
// the task is gone, then EOF when the supervisor exits (it is reaped then). An EOF without
// Exited means the supervisor itself was killed.
void ExecRun::ReadReports(Launch* launch, RunResult& result, bool& leader_done) {
  internal::SupervisorReport report{};
  ssize_t n;
  while ((n = ::read(launch->task.report_fd, &report, sizeof(report))) ==
         static_cast<ssize_t>(sizeof(report))) {
    if (report.kind != internal::SupervisorReport::kExited || leader_done) continue;
    if (WIFEXITED(report.value)) result.exit_code = WEXITSTATUS(report.value);
    if (WIFSIGNALED(report.value)) result.term_signal = WTERMSIG(report.value);
    result.ended_ms = NowMs();
    leader_done = true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  CloseFd(launch->task.report_fd);
  int status = 0;
  while (::waitpid(launch->task.supervisor, &status, 0) < 0 && errno == EINTR) {
  }
  launch->task.supervisor = -1;
  if (!leader_done) {
    // The supervisor died first; its PR_SET_PDEATHSIG took the task's leader with it.
    result.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
    result.ended_ms = NowMs();
    leader_done = true;
  }
}

void ExecRun::Watch(Launch* launch, RunResult& result) {
  const int64_t deadline = launch->timeout_ms > 0 ? result.started_ms + launch->timeout_ms : -1;
  int64_t term_sent_ms = -1;  // when SIGTERM was asked for
  bool sigkill_sent = false;
  bool leader_done = false;
  int64_t drain_deadline = -1;
  std::string buffer(64 << 10, '\0');
  bool output_ok = static_cast<bool>(on_output_);
  auto ask = [&](char request) {
    ssize_t ignored = ::send(launch->task.control_fd, &request, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  };

  while (true) {
    const int64_t now = NowMs();
    if (!leader_done) {
      if (term_sent_ms < 0) {
        std::lock_guard<std::mutex> lock(mu_);
        if (kill_requested_) {
          result.killed = true;
          result.kill_reason = kill_reason_;
        }
      }
      if (term_sent_ms < 0 && !result.killed && deadline >= 0 && now >= deadline) {
        result.timed_out = true;
      }
      if (term_sent_ms < 0 && (result.killed || result.timed_out)) {
        ask(internal::kControlTerminate);
        term_sent_ms = now;
      }
      if (term_sent_ms >= 0 && !sigkill_sent && now >= term_sent_ms + launch->kill_grace_ms) {
        ask(internal::kControlKill);
        sigkill_sent = true;
      }
    } else if (drain_deadline < 0) {
      drain_deadline = now + kDrainAfterExitMs;
    }
    const bool pipes_closed = launch->stdout_read < 0 && launch->stderr_read < 0;
    if (launch->task.supervisor < 0 && (pipes_closed || now >= drain_deadline)) break;

    // Sleep until output, a report, a Kill() or the next deadline.
    int64_t wake_at = -1;
    auto wake_by = [&](int64_t t) { wake_at = wake_at < 0 ? t : std::min(wake_at, t); };
    if (leader_done) {
      wake_by(drain_deadline);
    } else {
      if (term_sent_ms < 0 && deadline >= 0) wake_by(deadline);
      if (term_sent_ms >= 0 && !sigkill_sent) wake_by(term_sent_ms + launch->kill_grace_ms);
    }
    const int timeout =
        wake_at < 0 ? -1 : static_cast<int>(std::clamp<int64_t>(wake_at - now, 0, 60'000));
    pollfd fds[4] = {{launch->stdout_read, POLLIN, 0},
                     {launch->stderr_read, POLLIN, 0},
                     {wake_fd_, POLLIN, 0},
                     {launch->task.report_fd, POLLIN, 0}};
    if (::poll(fds, 4, timeout) < 0 && errno != EINTR) break;
    for (int s = 0; s < 2; ++s) {
      if (fds[s].fd >= 0 && fds[s].revents != 0) ReadOutput(launch, s, buffer, output_ok);
    }
    if ((fds[2].revents & POLLIN) != 0) {
      uint64_t count;
      ssize_t ignored = ::read(wake_fd_, &count, sizeof(count));
      (void)ignored;
    }
    if (fds[3].fd >= 0 && fds[3].revents != 0) ReadReports(launch, result, leader_done);
  }
  if (launch->task.supervisor > 0) {  // poll failed: end it all rather than leave it running
    ask(internal::kControlKill);
    CloseFd(launch->task.control_fd);
    while (::waitpid(launch->task.supervisor, nullptr, 0) < 0 && errno == EINTR) {
    }
    launch->task.supervisor = -1;
  }
}

void ExecRun::Finish(RunResult result) {
  std::lock_guard<std::mutex> lock(mu_);
  result_ = std::move(result);
  done_ = true;
  cv_.notify_all();
}

RunResult ExecRun::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  return result_;
}

void ExecRun::Kill(std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_ || kill_requested_) return;
    kill_requested_ = true;
    kill_reason_ = std::move(reason);
  }
  const uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

ExecRun::~ExecRun() {
  Kill("run destroyed while still running");
  if (thread_.joinable()) thread_.join();
  CloseFd(wake_fd_);
}

}  // namespace populi::runners
