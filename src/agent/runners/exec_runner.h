// The exec runner: starts one task's process on this node and watches it to the end.
//
// Linux only (fork/exec, process groups, pipes, poll). The child gets its own session and process
// group, stdin from /dev/null, stdout and stderr on pipes, no other inherited descriptors, default
// signal dispositions, and exactly the environment described at RunSpec. A small supervisor
// process per run (supervisor.h) stands between the agent and the task: everything the task
// starts, including processes that leave its group or session, is its descendant, so Kill(),
// timeouts, the task's own exit and the agent's death (SIGKILL included) end all of it.
//
//   auto run = ExecRun::Start(spec, policy, [](OutputStream s, std::string_view chunk) { ... });
//   if (!run.ok()) return run.status();   // refused: policy, sandbox missing, bad spec
//   RunResult result = (*run)->Wait();    // exit code, signal, output tails, spawn error
//
// Start() fails only when the runner refuses or cannot try (policy, a missing sandbox, a bad spec,
// no processes left). A program that cannot be started (not found, not executable, working dir
// missing) is a finished run whose RunResult carries spawn_error and exit code 127 or 126.
// docs/exec-runner.md has the whole contract.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mesh/task.h"
#include "util/status.h"

namespace populi::runners {

inline constexpr int64_t kDefaultKillGraceMs = 5000;
inline constexpr uint64_t kDefaultOutputCapBytes = 1 << 20;  // per stream

// Exit codes a shell would use for a program that could not be started.
inline constexpr int kExitCommandNotFound = 127;
inline constexpr int kExitCannotExecute = 126;

// Limits applied to the child with setrlimit (soft = hard = the value, never above the agent's own
// hard limit). Unset = inherited from the agent.
struct ResourceLimits {
  std::optional<uint64_t> address_space_bytes;  // RLIMIT_AS
  std::optional<uint64_t> open_files;           // RLIMIT_NOFILE
  std::optional<uint64_t> cpu_seconds;          // RLIMIT_CPU
};

// One run of one task attempt.
//
// The child's environment is exactly, later entries winning:
//   PATH (the agent's), HOME = the scratch dir, LANG = C.UTF-8;
//   then `env`;
//   then CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES = the comma-joined gpu_uuids, or, when
//   gpu_uuids is empty and gpus_requested is 0, CUDA_VISIBLE_DEVICES = "" (no GPU at all);
//   then POPULI_TASK_ID and POPULI_ATTEMPT.
// Nothing else of the agent's environment reaches the child.
struct RunSpec {
  std::string task_id;
  int32_t attempt = 1;

  // A bare name is looked up on the child's PATH; a name with '/' is used as is (relative to the
  // working directory when not absolute).
  std::string command;
  std::vector<std::string> args;  // argv[1..]; argv[0] is `command`
  std::map<std::string, std::string> env;

  // Every run gets a fresh scratch dir (mode 0700) under scratch_root (empty: $TMPDIR or /tmp);
  // it is HOME, and the working directory unless working_dir (absolute) is given. It is removed
  // when the run ends unless keep_scratch.
  std::string working_dir;
  std::string scratch_root;
  bool keep_scratch = false;

  int64_t timeout_ms = 0;                              // 0 = none; then SIGTERM, grace, SIGKILL
  int64_t kill_grace_ms = kDefaultKillGraceMs;         // SIGTERM → this long → SIGKILL
  uint64_t output_cap_bytes = kDefaultOutputCapBytes;  // tail kept per stream in the result
  ResourceLimits limits;

  std::vector<std::string> gpu_uuids;  // GPUs reserved for this attempt
  uint32_t gpus_requested = 0;         // what the task asked for; >0 needs gpu_uuids

  // Where a record of the run is kept while it runs, for KillLeftovers() after a hard kill of
  // the whole agent (leftovers.h); empty: none.
  std::string run_records_dir;
};

// The spec of `task`'s attempt `attempt_number` on the GPUs reserved for it. Scratch root, limits
// and output cap keep their defaults; the caller sets them.
RunSpec RunSpecForTask(const mesh::Task& task, int32_t attempt_number,
                       std::vector<std::string> gpu_uuids);

// What this node lets tasks run (the [mesh.policy] section).
enum class ExecMode {
  kStrict,  // only programs listed in allowed_commands
  kOpen,    // any program ("permissive" in the configuration)
};
enum class Sandbox {
  kNone,
  kBwrap,  // bubblewrap: read-only root, private /tmp, only the scratch dir writable
};

struct ExecPolicy {
  ExecMode mode = ExecMode::kStrict;
  // Bare names ("python3": the program that name finds on the agent's PATH) or absolute paths.
  // A command is allowed when the program it resolves to is the program an entry resolves to.
  std::vector<std::string> allowed_commands;
  Sandbox sandbox = Sandbox::kNone;
  // The bubblewrap binary; empty: /usr/bin/bwrap, else `bwrap` on the agent's PATH.
  std::string bwrap_path;
};

// "strict"; "open" or "permissive". "none" or "bwrap". kInvalidArgument otherwise.
Result<ExecMode> ParseExecMode(std::string_view s);
Result<Sandbox> ParseSandbox(std::string_view s);

enum class OutputStream { kStdout, kStderr };
std::string_view ToString(OutputStream s);  // "stdout" | "stderr"

// Called on the runner's own thread each time bytes arrive, in order per stream; chunks split
// anywhere (not on lines). Must not block for long (the child stalls while its pipe is full)
// and must not call Wait() on its own run; Kill() is fine.
using OutputFn = std::function<void(OutputStream, std::string_view chunk)>;

struct RunResult {
  int exit_code = -1;   // the exit status; -1 when killed by a signal
  int term_signal = 0;  // the signal that ended it; 0 when it exited
  bool timed_out = false;
  bool killed = false;  // Kill() reached the process before it exited
  std::string kill_reason;
  // Set when the program never ran: "command not found: X" (exit_code 127), "cannot execute: X
  // (Permission denied)" or "working dir: ..." (126).
  std::string spawn_error;
  int64_t started_ms = 0;  // monotonic clock
  int64_t ended_ms = 0;
  std::string stdout_tail;  // the last output_cap_bytes of each stream
  std::string stderr_tail;
  uint64_t stdout_truncated_bytes = 0;  // bytes dropped from the front of the tail
  uint64_t stderr_truncated_bytes = 0;
  std::string scratch_dir;  // where HOME was (gone unless keep_scratch)

  bool succeeded() const {
    return spawn_error.empty() && exit_code == 0 && term_signal == 0 && !timed_out && !killed;
  }
};

// One running process. Start() returns once the program has been exec'd (or failed to be);
// a thread of the runner's own then streams output, enforces the timeout and reaps the child.
// Destroying a run that is still going kills it and waits for it.
class ExecRun {
 public:
  static Result<std::unique_ptr<ExecRun>> Start(RunSpec spec, ExecPolicy policy,
                                                OutputFn on_output = nullptr);
  ~ExecRun();
  ExecRun(const ExecRun&) = delete;
  ExecRun& operator=(const ExecRun&) = delete;

  // Blocks until the task's leader has exited, every other process it started has been killed
  // and reaped, and both pipes are drained. Any thread, any number of times.
  RunResult Wait();

  // SIGTERM to the task's process group and every other process it started, SIGKILL to all of
  // them kill_grace_ms later if the leader still runs.
  // Thread-safe, returns at once; the first reason is kept. No effect once the run has ended.
  void Kill(std::string reason);

  // The leader's pid (also its process group id); -1 when the program never ran.
  pid_t pid() const { return pid_; }
  const std::string& scratch_dir() const { return scratch_dir_; }

 private:
  struct Launch;
  ExecRun() = default;
  void Supervise(Launch* launch);  // the runner's thread
  void Watch(Launch* launch, RunResult& result);
  void ReadOutput(Launch* launch, int stream, std::string& buffer, bool& output_ok);
  void ReadReports(Launch* launch, RunResult& result, bool& leader_done);
  void Finish(RunResult result);

  OutputFn on_output_;
  pid_t pid_ = -1;
  std::string scratch_dir_;
  int wake_fd_ = -1;  // eventfd: Kill() wakes the runner's thread
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool kill_requested_ = false;
  std::string kill_reason_;
  bool done_ = false;
  RunResult result_;
};

}  // namespace populi::runners
