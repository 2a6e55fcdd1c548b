// What the task verbs (tasks.cc, tasks_submit.cc) and the admin verbs (admin.cc) share: the
// control-plane client they use, writing a task's log records, and the rule that turns an ended
// task into the CLI's exit code.
#pragma once

#include <cstdint>
#include <string>

#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "client/control_plane_api.h"
#include "config/config.h"
#include "mesh/replies.h"
#include "mesh/task.h"
#include "util/status.h"

namespace populi::cli {

// The client a task or admin verb uses: configuration (warnings print once), the control URL
// (ResolveControlUrl), mesh.token, and up to 3 attempts for idempotent calls (every GET, and a
// POST carrying an idempotency-key header). `cfg_out`, when given, receives the configuration.
Result<client::ControlPlaneApi> TaskClient(Context& ctx, config::Config* cfg_out);

// ---- tasks ----

// The exit code for an ended task, printing to ctx.err what the output alone does not say:
//   succeeded → its exit code (0);
//   failed with an exit code in 1..255 → that code;
//   failed otherwise (lost beyond max_attempts, timed out, refused, exit 0 or > 255) → 1, with
//     `error: task ID failed: <last attempt's error> (attempt N of M)` and an explain hint;
//   cancelled → 130, with `task ID was cancelled`.
// A task that has not ended gives 1 and prints nothing.
int TaskExitCode(Context& ctx, const mesh::Task& task);

// One line for a task's state: "t-1 succeeded (exit 0)", "t-1 failed: lease_lost",
// "t-1 pending: <reason>", "t-1 running on gpu-2", "t-1 cancelled".
std::string TaskStateLine(const mesh::Task& task);

// ---- logs ----

// Writes one log record: stdout chunks to ctx.out and stderr chunks to ctx.err (or, with
// `json_lines`, the record as one JSON line on ctx.out), flushed as written.
void WriteLogRecord(Context& ctx, const mesh::LogRecord& record, bool json_lines);

// Writes a task's log records after seq `after` until the task has ended
// (ControlPlaneApi::FollowLogs: the event stream, else polling). With `json_lines` the last line
// is {"end":{"state","exit_code"}}. Errors keep ControlPlaneStatus's hint.
Status FollowTaskLogs(Context& ctx, client::ControlPlaneApi& api, const std::string& id,
                      int64_t after, bool json_lines);

}  // namespace populi::cli
