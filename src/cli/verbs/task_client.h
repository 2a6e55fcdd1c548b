// What the task verbs (tasks.cc, tasks_submit.cc) and the admin verbs (admin.cc) share: the
// control-plane client they use, the Task document of docs/tasks.md, following a task's logs, and
// the rule that turns an ended task into the CLI's exit code.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "client/http_client.h"
#include "config/config.h"
#include "mesh/task.h"
#include "util/status.h"

namespace populi::cli {

// ---- requests ----

// The client a task or admin verb uses: configuration (warnings print once), the control URL
// (ResolveControlUrl), mesh.token, and up to 3 attempts for idempotent calls (every GET, and a
// POST carrying an idempotency-key header). `cfg_out`, when given, receives the configuration.
Result<std::unique_ptr<client::HttpClient>> TaskClient(Context& ctx, config::Config* cfg_out);

// "/v1/populi/tasks/<id><suffix>", the id percent-encoded as one path segment.
std::string TaskPath(std::string_view id, std::string_view suffix);

// kInternal for a reply the CLI cannot read: "the control plane sent <what>", with a version hint.
Status MalformedReply(std::string what);
// The body of a successful reply as JSON; MalformedReply naming `what` when it is not JSON.
Result<boost::json::value> ReplyJson(const client::ClientResponse& response,
                                     const std::string& what);
// o[key] when it is a string / an integer in int64 range, else "" / `fallback`.
std::string JsonString(const boost::json::object& o, const char* key);
int64_t JsonInt(const boost::json::object& o, const char* key, int64_t fallback);

// ---- tasks ----

// A Task document (docs/tasks.md) as mesh::Task. `id` and a known `state` are required; other
// fields may be missing (defaults) and unknown fields are ignored; an unknown attempt state or
// dispatch is an error.
Result<mesh::Task> ParseTaskDocument(const boost::json::value& v);

// Sends `method path` (no body) and reads the Task it answers with; `raw`, when given, receives
// the document as sent (for --json output). Transport errors keep ControlPlaneStatus's hint.
Result<mesh::Task> RequestTask(client::HttpClient& http, std::string_view method,
                               const std::string& path, int timeout_ms, boost::json::value* raw);

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

struct LogPage {
  int64_t next_after = 0;  // the seq to ask after next
  size_t count = 0;        // records on this page
  bool ended = false;      // the task had ended when the page was read
};

// GET …/logs?after=SEQ once. Each record goes to `collected` when given; otherwise stdout chunks
// are written to ctx.out and stderr chunks to ctx.err (or, with `json_lines`, each record as one
// JSON line on ctx.out), flushed as written.
Result<LogPage> ReadLogPage(Context& ctx, client::HttpClient& http, const std::string& id,
                            int64_t after, bool json_lines, boost::json::array* collected);

// Writes a task's log records after seq `after` until the task ended: the server-sent event
// stream first (`log` events, then `end`); when the stream cannot be opened, breaks, or closes
// without `end`, it polls GET …/logs?after=SEQ every 200 ms from the last seq written, so no record
// is lost or written twice. An unknown task or a refused token is returned at once. With
// `json_lines` the last line is {"end":{"state","exit_code"}}.
Status FollowTaskLogs(Context& ctx, client::HttpClient& http, const std::string& id, int64_t after,
                      bool json_lines);

}  // namespace populi::cli
