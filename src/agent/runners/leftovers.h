// What an earlier life of an agent may have left running, and ending it.
//
// A run's supervisor (supervisor.h) ends the task's processes however the agent dies. What it
// cannot survive is being killed itself in the same blow — `killall -9 vox` matches the
// supervisors too, since they are copies of the agent. Then the task's leader still dies
// (PR_SET_PDEATHSIG), but its children are reparented to init and keep running.
//
// So each live run is recorded in a small file (a "run record") in a directory of the agent's
// own, removed when the run ends. An agent that starts again calls KillLeftovers() on that
// directory before it claims any work: for every record whose agent is gone, it asks a supervisor
// that still runs to end its tree (SIGTERM), then SIGKILLs every process that started after the
// supervisor and is either in the task's session or carries the attempt's POPULI_TASK_ID and
// POPULI_ATTEMPT in its environment (processes that left the session keep those unless they
// clear their environment). Pids are always checked against their start time (/proc/PID/stat
// field 22), so a number the kernel has since given to another process is never signalled.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "util/status.h"

namespace populi::runners {

struct RunRecord {
  pid_t agent = -1;  // the process that started the run, and when (clock ticks since boot)
  uint64_t agent_start = 0;
  pid_t supervisor = -1;
  uint64_t supervisor_start = 0;
  pid_t task = -1;  // the task's leader, its session id
  uint64_t task_start = 0;
  std::string task_id;
  int32_t attempt = 0;
};

// Start time of `pid` (field 22 of /proc/PID/stat); 0 when it is gone.
uint64_t ProcessStartTime(pid_t pid);

// The record of a run that has just started: this process as the agent, start times read now.
RunRecord RecordFor(pid_t supervisor, pid_t task, const std::string& task_id, int32_t attempt);

// Writes `record` to `dir` (created 0700 if missing) as <supervisor pid>.run, atomically.
Status WriteRunRecord(const std::string& dir, const RunRecord& record);
// Removes it; nothing when it is not there.
void RemoveRunRecord(const std::string& dir, pid_t supervisor);

struct LeftoverSweep {
  int records = 0;       // records of runs whose agent is gone (all removed)
  int processes = 0;     // processes signalled
  int live_records = 0;  // records of a live agent, left alone
};

// Ends what the runs recorded in `dir` left behind; see the top of this file. Blocks for up to
// about two seconds per record whose processes will not go.
LeftoverSweep KillLeftovers(const std::string& dir);

}  // namespace populi::runners
