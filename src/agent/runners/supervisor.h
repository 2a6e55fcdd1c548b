// The per-attempt supervisor: a process forked from the agent that starts the task and outlives
// the agent just long enough to take the task's whole process tree with it.
//
//   agent (runner thread) ── fork ──▶ supervisor S ── vfork ──▶ task T (setsid, rlimits, exec)
//                         ◀─ report pipe ── S: Started{T} | SpawnFailed | ForkFailed |
//                         Exited{status} ── control socket ─▶ S: 'T' (SIGTERM the tree) | 'K'
//                         (SIGKILL the tree)
//
// S is a child subreaper (PR_SET_CHILD_SUBREAPER): whatever the task starts — grandchildren,
// processes that call setsid(), daemons that double-fork — is reparented to S, never to init,
// when its parent exits. S kills every descendant when
//   - T exits (orphans die with the task, then S reports Exited),
//   - the agent asks ('K', or 'T' first for the graceful SIGTERM), or
//   - the agent is gone: its end of the control socket reads EOF (the kernel closes it however the
//     agent dies, SIGKILL and OOM included), or PR_SET_PDEATHSIG (SIGHUP) fires, or S itself gets
//     SIGTERM/SIGINT/SIGHUP/SIGQUIT.
// It then reaps everything and exits. Descendants are found by reading PPid from /proc/*/stat (no
// CONFIG_PROC_CHILDREN needed), and killing repeats until S has no child left, so a process that
// forks while being killed is caught on the next round.
//
// Everything in supervisor.cc runs after fork() in a multithreaded agent: raw system calls, fixed
// buffers and stack memory only — no malloc, no std::string, no locks, no logging.
// Internal to the runners library.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "agent/runners/launch.h"

namespace populi::runners::internal {

// What the task's process reports on its status pipe when it cannot exec.
enum class ChildStage : int32_t { kSession = 1, kStdio, kChdir, kLimits, kExec };

// The agent's requests on the control socket.
inline constexpr char kControlTerminate = 'T';  // SIGTERM to the task's group and descendants
inline constexpr char kControlKill = 'K';       // SIGKILL to all of them

// One record on the report pipe (atomic: far below PIPE_BUF).
struct SupervisorReport {
  enum Kind : int32_t {
    kStarted = 1,      // value: the task's pid (it has exec'd)
    kSpawnFailed = 2,  // stage, err: why exec did not happen; value: the task's exit code
    kForkFailed = 3,   // err: fork() of the task failed
    kExited = 4,       // value: the task's wait status; every descendant is gone
  };
  int32_t kind = 0;
  int32_t value = 0;
  int32_t stage = 0;
  int32_t err = 0;
};

// The descriptors the supervisor keeps; all else is closed in it.
struct SupervisorFds {
  int control = -1;  // its end of the control socket
  int report = -1;   // write end of the report pipe
  int devnull = -1;  // the task's stdin
  pid_t agent = -1;  // the agent's pid, for the PR_SET_PDEATHSIG race check
};

// The supervisor's whole life; never returns. `setup` carries the task's stdout/stderr ends.
[[noreturn]] void SupervisorMain(const ChildSetup& setup, char* const* argv, char* const* envp,
                                 SupervisorFds fds);

}  // namespace populi::runners::internal
