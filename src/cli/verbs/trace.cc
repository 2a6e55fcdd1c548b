// `vox populi trace TASK|TRACE_ID`: one trace across every hop (docs/observability.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>

#include "cli/verb.h"
#include "cli/verbs/task_client.h"
#include "cli/verbs/trace_view.h"
#include "obs/span_json.h"
#include "obs/trace_context.h"

namespace populi::cli {

namespace json = boost::json;

namespace {

std::string Millis(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1fms", static_cast<double>(ns) / 1e6);
  return buf;
}

std::string Where(const obs::Span& s) {
  return s.node_id.empty() ? (s.service == "vox-control-plane" ? "control-plane" : s.service)
                           : s.node_id;
}

bool IsTraceId(const std::string& text) {
  obs::TraceId id;
  return obs::FromHex(text, id.data(), id.size());
}

int RunTrace(Context& ctx, const std::string& what) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  std::string trace_id = what;
  if (!IsTraceId(what)) {
    // A task: its trace is the one its spec carries (set at submit).
    auto task = api->GetTask(what);
    if (!task.ok()) return ctx.Fail(ControlPlaneStatus(task.status()));
    auto parent = obs::ParseTraceparent(task->spec.traceparent);
    if (!parent.ok()) {
      return ctx.Fail(Status(Code::kNotFound, "task " + what + " carries no trace context",
                             "tasks submitted to a control plane with tracing on have one"));
    }
    trace_id = parent->TraceIdHex();
  }
  auto spans = api->Trace(trace_id);
  if (!spans.ok()) return ctx.Fail(ControlPlaneStatus(spans.status()));
  const bool terminal = ctx.out == &std::cout && isatty(STDOUT_FILENO) == 1;
  if (ctx.global.json || !terminal) {
    json::array list;
    for (const auto& s : *spans) list.push_back(obs::ToJson(s));
    *ctx.out << json::serialize(json::object{{"trace_id", trace_id}, {"spans", std::move(list)}})
             << "\n";
    return ctx.exit_code = kExitOk;
  }
  WritePaged(ctx, "trace " + trace_id + "\n" + RenderTraceWaterfall(*spans));
  return ctx.exit_code = kExitOk;
}

}  // namespace

std::string RenderTraceWaterfall(const std::vector<obs::Span>& spans, size_t bar_width) {
  if (spans.empty()) return "";
  int64_t t0 = spans.front().start_unix_ns, t1 = spans.front().end_unix_ns;
  std::map<std::string, const obs::Span*> by_id;
  for (const auto& s : spans) {
    t0 = std::min(t0, s.start_unix_ns);
    t1 = std::max(t1, s.end_unix_ns);
    by_id[obs::ToHex(s.span_id.data(), s.span_id.size())] = &s;
  }
  const double total = static_cast<double>(std::max<int64_t>(t1 - t0, 1));
  std::map<std::string, std::vector<const obs::Span*>> children;
  std::vector<const obs::Span*> roots;
  for (const auto& s : spans) {
    const std::string parent = obs::ToHex(s.parent_span_id.data(), s.parent_span_id.size());
    if (s.has_parent() && by_id.count(parent) != 0) {
      children[parent].push_back(&s);
    } else {
      roots.push_back(&s);
    }
  }
  auto by_start = [](const obs::Span* a, const obs::Span* b) {
    return a->start_unix_ns < b->start_unix_ns;
  };
  std::sort(roots.begin(), roots.end(), by_start);
  for (auto& [id, list] : children) std::sort(list.begin(), list.end(), by_start);

  std::vector<std::vector<std::string>> rows;
  std::function<void(const obs::Span*, size_t)> visit = [&](const obs::Span* s, size_t depth) {
    const auto from = static_cast<size_t>((s->start_unix_ns - t0) / total * bar_width);
    size_t len = static_cast<size_t>((s->end_unix_ns - s->start_unix_ns) / total * bar_width);
    len = std::clamp<size_t>(len, 1, bar_width - std::min(from, bar_width - 1));
    std::string bar(std::min(from, bar_width - 1), ' ');
    for (size_t i = 0; i < len; ++i) bar += "\u2588";
    rows.push_back({Where(*s), std::string(2 * depth, ' ') + s->name + (s->error ? " !" : ""),
                    "+" + Millis(s->start_unix_ns - t0), Millis(s->end_unix_ns - s->start_unix_ns),
                    bar});
    auto it = children.find(obs::ToHex(s->span_id.data(), s->span_id.size()));
    if (it == children.end()) return;
    for (const obs::Span* c : it->second) visit(c, depth + 1);
  };
  for (const obs::Span* r : roots) visit(r, 0);
  return RenderTable({"NODE", "SPAN", "START", "DURATION", "TIMELINE"}, rows);
}

void AddTraceVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto what = std::make_shared<std::string>();
  auto* trace = populi.add_subcommand(
      "trace", "One trace across every hop: a task's (by task id) or any trace id's spans");
  trace->footer(
      "A waterfall on a terminal (node, span, start offset, duration, timeline); JSON otherwise "
      "or with --json.\nExample: vox populi trace t-4f2a");
  AddClientOptions(*trace, ctx);
  trace->add_option("TASK_OR_TRACE_ID", *what, "Task id, or a 32-hex trace id")->required();
  trace->add_flag("--no-pager", ctx.global.no_pager, "Never page long output through $PAGER");
  trace->callback([what, &ctx] { RunTrace(ctx, *what); });
}

}  // namespace populi::cli
