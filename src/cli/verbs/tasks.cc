// Task verbs that read or act on existing tasks: `vox populi tasks`, `wait`, `logs`, `cancel`,
// `explain`, and the exec-lease table `leases`. `submit` is in tasks_submit.cc.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <memory>
#include <ostream>
#include <thread>

#include "cli/verb.h"
#include "cli/verbs/task_client.h"
#include "mesh/json.h"
#include "mesh/replies_json.h"
#include "mesh/task.h"
#include "mesh/task_json.h"
#include "util/clock.h"
#include "util/units.h"

namespace populi::cli {

namespace json = boost::json;

// From tasks_submit.cc.
void AddSubmitVerbs(CLI::App& root, CLI::App& populi, Context& ctx);

namespace {

Color TaskStateColor(mesh::TaskState state) {
  switch (state) {
    case mesh::TaskState::kSucceeded:
      return Color::kGreen;
    case mesh::TaskState::kFailed:
      return Color::kRed;
    case mesh::TaskState::kCancelled:
      return Color::kDim;
    case mesh::TaskState::kRunning:
      return Color::kBold;
    case mesh::TaskState::kPending:
    case mesh::TaskState::kPlaced:
      return Color::kYellow;
  }
  return Color::kDim;
}

// "sh -c echo hi" cut to `max` characters (UTF-8 aware), ending in "…" when cut.
std::string CommandText(const mesh::TaskSpec& spec, size_t max) {
  std::string text = spec.command;
  for (const auto& arg : spec.args) text += " " + arg;
  text = Printable(text);
  size_t chars = 0, cut = std::string::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars == max - 1) cut = i;
    if (++chars > max) return text.substr(0, cut) + "\u2026";
  }
  return text;
}

struct ListFlags {
  std::string state;
  int limit = 50;
};

int RunList(Context& ctx, const ListFlags& flags) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  auto list = api->ListTasks({.state = flags.state, .limit = flags.limit});
  if (!list.ok()) return ctx.Fail(ControlPlaneStatus(list.status()));
  if (ctx.global.json) {
    *ctx.out << json::serialize(mesh::ToJson(*list)) << "\n";
    return ctx.exit_code = kExitOk;
  }
  const std::vector<mesh::Task>& tasks = list->tasks;
  if (tasks.empty()) {
    *ctx.out << (flags.state.empty() ? std::string("no tasks") : "no " + flags.state + " tasks")
             << " on " << api->base_url() << "\n";
    return ctx.exit_code = kExitOk;
  }
  const int64_t now = SystemClock::Instance().NowMs();
  std::vector<std::vector<std::string>> rows;
  std::vector<Color> colors;
  for (const auto& t : tasks) {
    const bool ended = mesh::IsTerminal(t.state);
    rows.push_back({Printable(t.id), std::string(mesh::ToString(t.state)),
                    t.attempts.empty() ? "-" : Printable(t.attempts.back().node_id),
                    std::to_string(t.attempts.size()),
                    ended && t.exit_code >= 0 ? std::to_string(t.exit_code) : "-",
                    t.created_ms > 0 ? RelativeTime(t.created_ms, now) : "-",
                    CommandText(t.spec, 40)});
    colors.push_back(TaskStateColor(t.state));
  }
  WritePaged(ctx,
             RenderColoredTable(ctx, {"ID", "STATE", "NODE", "ATTEMPTS", "EXIT", "AGE", "COMMAND"},
                                rows, 1, colors));
  return ctx.exit_code = kExitOk;
}

struct WaitFlags {
  std::string id;
  std::string timeout;  // empty = until the task ends
};

int RunWait(Context& ctx, const WaitFlags& flags) {
  int64_t timeout_ms = 0;
  if (!flags.timeout.empty()) {
    auto parsed = ParseDurationMs(flags.timeout, BareUnit::kSeconds);
    if (!parsed.ok()) {
      const Status bad = parsed.status().WithContext("--timeout");
      return ctx.FailUsage(bad.message(), bad.hint());
    }
    timeout_ms = *parsed;
  }
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  const Clock& clock = SystemClock::Instance();
  const int64_t deadline = timeout_ms > 0 ? clock.NowMs() + timeout_ms : 0;
  while (true) {
    const int64_t now = clock.NowMs();
    const int64_t poll_ms = deadline > 0 ? std::min<int64_t>(deadline - now, 30'000) : 30'000;
    auto task = api->Wait(flags.id, std::max<int64_t>(poll_ms, 0));
    if (!task.ok()) return ctx.Fail(ControlPlaneStatus(task.status()));
    const bool ended = mesh::IsTerminal(task->state);
    if (ended || (deadline > 0 && clock.NowMs() >= deadline)) {
      if (ctx.global.json) {
        *ctx.out << json::serialize(mesh::ToJson(*task)) << "\n";
      } else {
        *ctx.out << TaskStateLine(*task) << "\n";
      }
      if (ended) return ctx.exit_code = TaskExitCode(ctx, *task);
      // The timeout as given, with the unit a bare number has: "after 90s" for --timeout 90.
      std::string waited = flags.timeout;
      while (!waited.empty() && std::isspace(static_cast<unsigned char>(waited.back()))) {
        waited.pop_back();
      }
      if (!waited.empty() && std::isdigit(static_cast<unsigned char>(waited.back()))) waited += "s";
      ctx.Fail(FailedPrecondition("task " + flags.id + " still " +
                                      std::string(mesh::ToString(task->state)) + " after " + waited,
                                  "wait longer with `vox populi wait " + flags.id +
                                      " --timeout 30m`, or see why with "
                                      "`vox populi explain " +
                                      flags.id + "`"));
      return ctx.exit_code = kExitFailure;
    }
    // A control plane that answered at once (no long poll) is not asked again at once.
    if (clock.NowMs() - now < 100) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

struct LogsFlags {
  std::string id;
  bool follow = false;
};

int RunLogs(Context& ctx, const LogsFlags& flags) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  if (flags.follow) {
    Status s = FollowTaskLogs(ctx, *api, flags.id, 0, ctx.global.json);
    return s.ok() ? (ctx.exit_code = kExitOk) : ctx.Fail(s);
  }
  json::array collected;
  int64_t after = 0;
  bool ended = false;
  for (int pages = 0; pages < 100'000; ++pages) {
    auto page = api->Logs(flags.id, after);
    if (!page.ok()) return ctx.Fail(ControlPlaneStatus(page.status()));
    int64_t next_after = std::max(after, page->next_after);
    for (const mesh::LogRecord& record : page->logs) {
      if (ctx.global.json) {
        collected.push_back(mesh::ToJson(record));
      } else {
        WriteLogRecord(ctx, record, /*json_lines=*/false);
      }
      next_after = std::max(next_after, record.seq);
    }
    ended = mesh::IsTerminal(page->state);
    if (page->logs.empty() || next_after <= after) break;
    after = next_after;
  }
  if (ctx.global.json) {
    *ctx.out << json::serialize(json::object{{"task_id", flags.id},
                                             {"logs", std::move(collected)},
                                             {"next_after", after},
                                             {"ended", ended}})
             << "\n";
  }
  return ctx.exit_code = kExitOk;
}

int RunCancel(Context& ctx, const std::string& id) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  auto task = api->Cancel(id);
  if (!task.ok()) return ctx.Fail(ControlPlaneStatus(task.status()));
  *ctx.out << (ctx.global.json ? json::serialize(mesh::ToJson(*task)) : TaskStateLine(*task))
           << "\n";
  return ctx.exit_code = kExitOk;
}

int RunExplain(Context& ctx, const std::string& id) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  auto explained = api->Explain(id);
  if (!explained.ok()) return ctx.Fail(ControlPlaneStatus(explained.status()));
  if (ctx.global.json) {
    *ctx.out << json::serialize(mesh::ToJson(*explained)) << "\n";
    return ctx.exit_code = kExitOk;
  }
  std::string text =
      "task " + Printable(id) + ": " + std::string(mesh::ToString(explained->state)) + "\n";
  if (!explained->pending_reason.empty()) {
    text += "pending: " + Printable(explained->pending_reason) + "\n";
  }
  if (explained->attempts.empty()) text += "no attempts yet\n";
  auto or_dash = [](std::string s) { return s.empty() ? std::string("-") : Printable(s); };
  for (const mesh::ExplainedAttempt& a : explained->attempts) {
    text += "attempt " + std::to_string(a.number) + ": node " + or_dash(a.node_id) + ", dispatch " +
            std::string(mesh::ToString(a.dispatch)) + ", " + std::string(mesh::ToString(a.state)) +
            "\n";
    if (!a.placement_summary.empty()) {
      text += "  placement: " + Printable(a.placement_summary) + "\n";
    }
    if (!a.error.empty()) text += "  error: " + Printable(a.error) + "\n";
  }
  WritePaged(ctx, text);
  return ctx.exit_code = kExitOk;
}

struct LeasesFlags {
  bool all = false;
};

Color LeaseStateColor(mesh::LeaseState state) {
  switch (state) {
    case mesh::LeaseState::kGranted:
    case mesh::LeaseState::kRenewed:
      return Color::kGreen;
    case mesh::LeaseState::kExpired:
    case mesh::LeaseState::kRevoked:
      return Color::kRed;
    case mesh::LeaseState::kReleased:
    case mesh::LeaseState::kCompleted:
      return Color::kDim;
  }
  return Color::kDim;
}

int RunLeases(Context& ctx, const LeasesFlags& flags) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  auto list = api->Leases(/*live_only=*/!flags.all);
  if (!list.ok()) return ctx.Fail(ControlPlaneStatus(list.status()));
  if (ctx.global.json) {
    *ctx.out << json::serialize(mesh::ToJson(*list)) << "\n";
    return ctx.exit_code = kExitOk;
  }
  const std::vector<mesh::ExecLease>& leases = list->leases;
  if (leases.empty()) {
    *ctx.out << (flags.all ? "no exec leases" : "no live exec leases") << " on " << api->base_url()
             << "\n";
    return ctx.exit_code = kExitOk;
  }
  const int64_t now = SystemClock::Instance().NowMs();
  std::vector<std::vector<std::string>> rows;
  std::vector<Color> colors;
  for (const auto& l : leases) {
    rows.push_back({Printable(l.lease_id.substr(0, 8)), Printable(l.scope_key),
                    Printable(l.holder_node_id), std::to_string(l.fencing_token),
                    std::string(mesh::ToString(l.state)),
                    l.expires_ms > 0 ? RelativeTime(l.expires_ms, now) : "-"});
    colors.push_back(LeaseStateColor(l.state));
  }
  WritePaged(ctx, RenderColoredTable(ctx, {"LEASE", "SCOPE", "HOLDER", "TOKEN", "STATE", "EXPIRES"},
                                     rows, 4, colors));
  return ctx.exit_code = kExitOk;
}

constexpr const char* kTaskStates[] = {"pending",   "placed", "running",
                                       "succeeded", "failed", "cancelled"};

}  // namespace

void AddTaskVerbs(CLI::App& root, CLI::App& populi, Context& ctx) {
  AddSubmitVerbs(root, populi, ctx);
  auto list_flags = std::make_shared<ListFlags>();
  auto* list = populi.add_subcommand(
      "tasks", "One row per task, newest first: state, node, attempts, exit code, age, command");
  list->footer("Example: vox populi tasks --state failed --limit 20");
  AddClientOptions(*list, ctx);
  list->add_option("--state", list_flags->state, "Only tasks in this state")
      ->check(
          CLI::IsMember(std::vector<std::string>(std::begin(kTaskStates), std::end(kTaskStates))));
  list->add_option("--limit", list_flags->limit, "At most this many tasks (default 50)")
      ->check(CLI::Range(1, 10'000));
  list->add_flag("--no-color", ctx.global.no_color, "Never use colour (NO_COLOR is honoured too)");
  list->add_flag("--no-pager", ctx.global.no_pager, "Never page long output through $PAGER");
  list->callback([list_flags, &ctx] { RunList(ctx, *list_flags); });

  auto wait_flags = std::make_shared<WaitFlags>();
  auto* wait = populi.add_subcommand(
      "wait", "Wait for a task to end; exits with its exit code (130 when cancelled)");
  wait->footer("Example: vox populi wait t-4f2a --timeout 10m");
  AddClientOptions(*wait, ctx);
  wait->add_option("ID", wait_flags->id, "Task id")->required();
  wait->add_option("--timeout", wait_flags->timeout,
                   "Give up after this long (90s, 10m, 2h; default: until it ends)");
  wait->callback([wait_flags, &ctx] { RunWait(ctx, *wait_flags); });

  auto logs_flags = std::make_shared<LogsFlags>();
  auto* logs =
      populi.add_subcommand("logs", "A task's output so far: stdout to stdout, stderr to stderr");
  logs->footer("Example: vox populi logs t-4f2a -f");
  AddClientOptions(*logs, ctx);
  logs->add_option("ID", logs_flags->id, "Task id")->required();
  logs->add_flag("-f,--follow", logs_flags->follow, "Keep printing output until the task ends");
  logs->callback([logs_flags, &ctx] { RunLogs(ctx, *logs_flags); });

  auto cancel_id = std::make_shared<std::string>();
  auto* cancel = populi.add_subcommand(
      "cancel", "Cancel a task; a running attempt's lease is revoked so its process is killed");
  cancel->footer("Example: vox populi cancel t-4f2a");
  AddClientOptions(*cancel, ctx);
  cancel->add_option("ID", *cancel_id, "Task id")->required();
  cancel->callback([cancel_id, &ctx] { RunCancel(ctx, *cancel_id); });

  auto explain_id = std::make_shared<std::string>();
  auto* explain = populi.add_subcommand(
      "explain", "Why a task is where it is: pending reason and every attempt's placement");
  explain->footer("Example: vox populi explain t-4f2a");
  AddClientOptions(*explain, ctx);
  explain->add_option("ID", *explain_id, "Task id")->required();
  explain->callback([explain_id, &ctx] { RunExplain(ctx, *explain_id); });

  auto leases_flags = std::make_shared<LeasesFlags>();
  auto* leases =
      populi.add_subcommand("leases", "Exec leases: scope, holder, fencing token, state, expiry");
  leases->footer("Example: vox populi leases --json");
  AddClientOptions(*leases, ctx);
  leases->add_flag("--all", leases_flags->all, "Include ended leases (history)");
  leases->add_flag("--no-color", ctx.global.no_color,
                   "Never use colour (NO_COLOR is honoured too)");
  leases->add_flag("--no-pager", ctx.global.no_pager, "Never page long output through $PAGER");
  leases->callback([leases_flags, &ctx] { RunLeases(ctx, *leases_flags); });
}

}  // namespace populi::cli
