// The task verbs' shared client, log writing and exit-code rule (contracts in task_client.h).
#include "cli/verbs/task_client.h"

#include <boost/json.hpp>
#include <ostream>

#include "mesh/replies_json.h"

namespace populi::cli {

namespace json = boost::json;

int TaskExitCode(Context& ctx, const mesh::Task& task) {
  switch (task.state) {
    case mesh::TaskState::kSucceeded:
      return task.exit_code > 0 && task.exit_code <= 255 ? task.exit_code : kExitOk;
    case mesh::TaskState::kCancelled:
      *ctx.err << "task " << task.id << " was cancelled\n";
      return 130;
    case mesh::TaskState::kFailed:
      break;
    default:
      return kExitFailure;  // not ended: callers only ask for ended tasks
  }
  if (task.exit_code > 0 && task.exit_code <= 255) return task.exit_code;
  std::string error = task.attempts.empty() ? std::string() : task.attempts.back().error;
  if (error.empty()) error = task.pending_reason;
  std::string message = "task " + task.id + " failed";
  if (task.exit_code == 0 || task.exit_code > 255) {
    message += " with exit code " + std::to_string(task.exit_code);
  }
  if (!error.empty()) message += ": " + Printable(error);
  if (!task.attempts.empty()) {
    message += " (attempt " + std::to_string(task.attempts.back().number) + " of " +
               std::to_string(task.spec.max_attempts) + ")";
  }
  ctx.Fail(
      FailedPrecondition(message, "see every attempt with `vox populi explain " + task.id + "`"));
  return kExitFailure;
}

std::string TaskStateLine(const mesh::Task& task) {
  std::string line = Printable(task.id) + " " + std::string(mesh::ToString(task.state));
  const mesh::Attempt* last = task.attempts.empty() ? nullptr : &task.attempts.back();
  switch (task.state) {
    case mesh::TaskState::kPending:
      if (!task.pending_reason.empty()) line += ": " + Printable(task.pending_reason);
      break;
    case mesh::TaskState::kPlaced:
    case mesh::TaskState::kRunning:
      if (last != nullptr && !last->node_id.empty()) line += " on " + Printable(last->node_id);
      break;
    case mesh::TaskState::kSucceeded:
    case mesh::TaskState::kFailed:
      if (task.exit_code >= 0) {
        line += " (exit " + std::to_string(task.exit_code) + ")";
      } else if (last != nullptr && !last->error.empty()) {
        line += ": " + Printable(last->error);
      }
      break;
    case mesh::TaskState::kCancelled:
      break;
  }
  return line;
}

void WriteLogRecord(Context& ctx, const mesh::LogRecord& record, bool json_lines) {
  if (json_lines) {
    *ctx.out << json::serialize(mesh::ToJson(record)) << "\n" << std::flush;
    return;
  }
  std::ostream& to = record.stream == "stderr" ? *ctx.err : *ctx.out;
  to << record.data << std::flush;
}

Status FollowTaskLogs(Context& ctx, client::ControlPlaneApi& api, const std::string& id,
                      int64_t after, bool json_lines) {
  auto end = api.FollowLogs(id, after, [&ctx, json_lines](const mesh::LogRecord& record) {
    WriteLogRecord(ctx, record, json_lines);
  });
  if (!end.ok()) return ControlPlaneStatus(end.status());
  if (json_lines) *ctx.out << json::serialize(json::object{{"end", mesh::ToJson(*end)}}) << "\n";
  return Status::Ok();
}

Result<client::ControlPlaneApi> TaskClient(Context& ctx, config::Config* cfg_out) {
  POPULI_ASSIGN_OR_RETURN(config::Config cfg, LoadConfig(ctx));
  POPULI_ASSIGN_OR_RETURN(std::string url, ResolveControlUrl(ctx, cfg));
  client::ControlPlaneApi api = ControlClient(cfg, url, /*with_token=*/true);
  api.http().set_retry_policy(
      {.max_attempts = 3, .initial_backoff_ms = 100, .max_backoff_ms = 2'000});
  if (cfg_out != nullptr) *cfg_out = std::move(cfg);
  return api;
}

}  // namespace populi::cli
