// `vox populi events`: the control plane's event log (docs/events.md). Without -f it prints the
// events after --after and exits; with -f it keeps following the server-sent stream like
// `tail -f`, resuming after a dropped connection with Last-Event-ID, so no event is lost or
// shown twice. A table on a terminal; one JSON object per line with --json.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <ctime>
#include <memory>
#include <ostream>

#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "client/control_plane_api.h"
#include "mesh/json.h"

namespace populi::cli {
namespace {

struct EventsFlags {
  bool follow = false;
  std::string kind;
  std::string node;
  int64_t after = 0;
  int limit = 1000;
};

// "2026-12-06T19:20:01.123Z".
std::string EventTime(int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof(ms), ".%03dZ", static_cast<int>(unix_ms % 1000));
  return std::string(buf) + ms;
}

std::vector<std::string> EventRow(const mesh::Event& e) {
  return {std::to_string(e.id), EventTime(e.ts_ms), Printable(e.kind),
          Printable(e.subject.empty() ? "-" : e.subject), Printable(e.data_json)};
}

const std::vector<std::string>& EventHeader() {
  static const std::vector<std::string> header = {"ID", "TIME", "KIND", "SUBJECT", "DATA"};
  return header;
}

void WriteJsonLine(Context& ctx, const mesh::Event& e) {
  *ctx.out << boost::json::serialize(mesh::ToJson(e)) << "\n" << std::flush;
}

int RunEvents(Context& ctx, const EventsFlags& flags) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto url = ResolveControlUrl(ctx, *cfg);
  if (!url.ok()) return ctx.Fail(url.status());
  client::ControlPlaneApi api = ControlClient(*cfg, *url, /*with_token=*/true);
  client::EventQuery query{flags.after, flags.limit, flags.kind, flags.node};

  if (flags.follow) {
    // Rows are written as events arrive, in the columns of the table's header.
    if (!ctx.global.json) *ctx.out << "ID\tTIME\tKIND\tSUBJECT\tDATA\n" << std::flush;
    Status s = api.FollowEvents(query, [&ctx](const mesh::Event& e) {
      if (ctx.global.json) {
        WriteJsonLine(ctx, e);
      } else {
        const auto row = EventRow(e);
        *ctx.out << row[0] << "\t" << row[1] << "\t" << row[2] << "\t" << row[3] << "\t" << row[4]
                 << "\n"
                 << std::flush;
      }
      return true;
    });
    return s.ok() ? (ctx.exit_code = kExitOk) : ctx.Fail(ControlPlaneStatus(s));
  }

  std::vector<mesh::Event> events;
  for (int pages = 0; pages < 100'000; ++pages) {
    auto page = api.Events(query);
    if (!page.ok()) return ctx.Fail(ControlPlaneStatus(page.status()));
    for (auto& e : page->events) events.push_back(std::move(e));
    if (page->next_after <= query.after) break;  // nothing newer
    query.after = page->next_after;
  }
  if (ctx.global.json) {
    for (const auto& e : events) WriteJsonLine(ctx, e);
    return ctx.exit_code = kExitOk;
  }
  if (events.empty()) {
    *ctx.out << "no events after " << flags.after << " (" << *url << ")\n";
    return ctx.exit_code = kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : events) rows.push_back(EventRow(e));
  WritePaged(ctx, RenderTable(EventHeader(), rows));
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddEventsVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<EventsFlags>();
  auto* verb = populi.add_subcommand(
      "events", "The control plane's events (node, lease, task, refusals); -f follows them");
  verb->footer(
      "Kinds are listed in docs/events.md. --kind takes exact kinds or prefixes ending in '.', "
      "comma-separated.\n"
      "Example: vox populi events -f --kind node.,lease.expired --node gpu-01");
  AddClientOptions(*verb, ctx);
  verb->add_flag("-f,--follow", flags->follow,
                 "Keep following new events (reconnects and resumes after a dropped connection)");
  verb->add_option("--kind", flags->kind, "Only these kinds (exact, or a prefix ending in '.')");
  verb->add_option("--node", flags->node, "Only events about this node");
  verb->add_option("--after", flags->after, "Start after this event id (default 0: all kept)")
      ->check(CLI::NonNegativeNumber);
  verb->add_flag("--no-pager", ctx.global.no_pager, "Never page long output through $PAGER");
  verb->callback([flags, &ctx] { RunEvents(ctx, *flags); });
}

}  // namespace populi::cli
