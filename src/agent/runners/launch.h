// Pieces of ExecRun::Start that do not need a running child: spec checks, program lookup, the
// exec policy, the child's environment and argv, scratch directories, and fork/exec itself.
// Internal to the runners library; separate so each step reads (and is tested) on its own.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/runners/exec_runner.h"
#include "util/status.h"

namespace populi::runners::internal {

// Bad specs are kInvalidArgument: empty command, NUL bytes, env names with '=', a relative
// working_dir or scratch_root, negative times, GPUs requested but none assigned.
Status ValidateSpec(const RunSpec& spec);

// The agent's PATH, or a conventional default when it has none.
std::string AgentPath();

// Like execvp's search: the first absolute `dir/name` on `path_list` that is an executable
// regular file; empty and relative entries are skipped. "" when there is none.
std::string SearchPath(const std::string& name, const std::string& path_list);

// The absolute program `command` names: looked up on `path_list` when it has no '/', else taken
// as is (relative ones against `cwd`, which may be empty: then nothing is found). nullopt when
// no such file exists.
std::optional<std::string> ResolveCommand(const std::string& command, const std::string& path_list,
                                          const std::string& cwd);

// kPermissionDenied (with a hint) unless `policy` lets `command`, resolved to `program`, run.
Status CheckPolicy(const ExecPolicy& policy, const std::string& command,
                   const std::optional<std::string>& program, const std::string& agent_path);

// The bubblewrap binary to use, or kFailedPrecondition with an install hint.
Result<std::string> FindBwrap(const ExecPolicy& policy, const std::string& agent_path);

// "NAME=value" entries, exactly as documented at RunSpec.
std::vector<std::string> ChildEnvironment(const RunSpec& spec, const std::string& agent_path,
                                          const std::string& scratch_dir);

// bwrap's argv running `program args...` with only `scratch_dir` writable, in `cwd`.
std::vector<std::string> BwrapArgv(const std::string& bwrap, const std::string& scratch_dir,
                                   const std::string& cwd, const std::string& program,
                                   const std::vector<std::string>& args);

// A fresh 0700 directory under `root` (created if missing; empty: $TMPDIR or /tmp) whose name
// carries the task id and attempt.
Result<std::string> CreateScratchDir(const std::string& root, const std::string& task_id,
                                     int32_t attempt);
// Removes it and everything in it, whatever modes the task left; never follows symlinks.
Status RemoveScratchDir(const std::string& dir);

// Everything the forked child needs, prepared before fork().
struct ChildSetup {
  std::string program;  // absolute path handed to execve
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string cwd;
  std::vector<std::pair<int, rlimit>> limits;  // resource → value, applied with setrlimit
  int stdout_fd = -1;                          // write ends of the output pipes
  int stderr_fd = -1;
};

// The rlimits to apply for `limits`, each capped at the agent's own hard limit.
std::vector<std::pair<int, rlimit>> PrepareLimits(const ResourceLimits& limits);

struct SpawnOutcome {
  Status failure;           // not ok: could not even fork (nothing ran)
  pid_t pid = -1;           // the task, leader of its own session and process group
  std::string spawn_error;  // non-empty: forked, but the program did not start (all reaped)
  int exit_code = -1;       // 127 or 126 with spawn_error
  // While the task runs (supervisor.h): the supervisor, which the caller reaps; the caller's
  // end of its control socket; the read end of its report pipe (Exited comes there).
  pid_t supervisor = -1;
  int control_fd = -1;
  int report_fd = -1;
};

// Forks the task's supervisor, which forks and execs the task; returns once the task has exec'd
// or it is known why it could not. Call from the thread that will reap the supervisor: its
// PR_SET_PDEATHSIG watches the forking thread.
SpawnOutcome Spawn(const ChildSetup& setup, const std::string& command);

}  // namespace populi::runners::internal
