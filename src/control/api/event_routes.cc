// GET /v1/populi/events (a page, or a server-sent stream that resumes from Last-Event-ID) and
// GET /metrics (the process's metric registry in the Prometheus text format).
#include <algorithm>
#include <charconv>

#include <boost/json.hpp>

#include "control/api/routes.h"
#include "dispatch/scopes.h"
#include "mesh/json.h"
#include "mesh/replies_json.h"
#include "obs/metrics.h"

namespace populi::control {
namespace json = boost::json;
namespace {

constexpr int kStreamBatch = 256;
constexpr int kStreamScanBatches = 16;  // filtered-out batches scanned per call before yielding

// `kind` (comma-separated; an item ending in '.' is a prefix) and `node` (the subject, or the
// node named in the event's data) narrow what is listed or streamed.
struct EventFilter {
  std::vector<std::string> kinds;
  std::string node;

  bool Matches(const mesh::Event& e) const {
    if (!kinds.empty()) {
      const bool kind_ok = std::any_of(kinds.begin(), kinds.end(), [&e](const std::string& k) {
        return k.back() == '.' ? e.kind.compare(0, k.size(), k) == 0 : e.kind == k;
      });
      if (!kind_ok) return false;
    }
    return node.empty() || mesh::EventConcernsNode(e, node);
  }
};

EventFilter FilterOf(const http::Request& req) {
  EventFilter f;
  if (auto it = req.query.find("kind"); it != req.query.end()) {
    std::string_view rest = it->second;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      if (!item.empty()) f.kinds.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (auto it = req.query.find("node"); it != req.query.end()) f.node = it->second;
  return f;
}

// Where a stream starts: the Last-Event-ID header (a reconnecting client) wins over ?after=.
Result<int64_t> StartCursor(const http::Request& req) {
  std::string_view last = req.Header("last-event-id");
  if (last.empty()) return QueryIntParam(req, "after", 0);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(last.data(), last.data() + last.size(), v);
  if (ec != std::errc() || end != last.data() + last.size() || v < 0) {
    return InvalidArgument("Last-Event-ID must be an event id (a non-negative integer)",
                           "resume with the id of the last event received");
  }
  return v;
}

bool WantsStream(const http::Request& req) {
  return req.query.count("follow") != 0 ||
         req.Header("accept").find("text/event-stream") != std::string_view::npos;
}

std::string SseFrame(const mesh::Event& e) {
  return "id: " + std::to_string(e.id) + "\nevent: " + e.kind +
         "\ndata: " + json::serialize(mesh::ToJson(e)) + "\n\n";
}

http::Response Stream(ApiContext& ctx, const http::Request& req) {
  auto start = StartCursor(req);
  if (!start.ok()) return Error(start.status(), req);
  auto stream = std::make_shared<http::EventStream>();
  stream->topic = std::string(dispatch::kEventsTopic);
  stream->cursor = *start;
  stream->next = [&ctx, filter = FilterOf(req)](int64_t& cursor) -> std::optional<std::string> {
    // Event ids are assigned in commit order by the store's single writer and a reader sees
    // whole commits, so everything at or below the last id read is final: resuming after it
    // neither skips nor repeats an event.
    std::string out;
    for (int scanned = 0; scanned < kStreamScanBatches; ++scanned) {
      auto events = ctx.store.ListEvents(cursor, kStreamBatch);
      if (!events.ok()) return std::nullopt;  // ends the stream; the client resumes
      for (const auto& e : *events) {
        cursor = e.id;
        if (filter.Matches(e)) out += SseFrame(e);
      }
      if (!out.empty() || events->size() < static_cast<size_t>(kStreamBatch)) return out;
    }
    // Only filtered-out events so far: a comment keeps the stream moving without a wait.
    return std::string(": scanned to " + std::to_string(cursor) + "\n\n");
  };
  http::Response r;
  r.stream = std::move(stream);
  return r;
}

http::Response ListEvents(ApiContext& ctx, http::Request& req) {
  if (WantsStream(req)) return Stream(ctx, req);
  auto after = QueryIntParam(req, "after", 0);
  if (!after.ok()) return Error(after.status(), req);
  auto limit = QueryIntParam(req, "limit", 100);
  if (!limit.ok()) return Error(limit.status(), req);
  const int n = static_cast<int>(std::clamp<int64_t>(*limit, 1, 1000));
  const EventFilter filter = FilterOf(req);
  auto events = ctx.store.ListEvents(*after, n);
  if (!events.ok()) return Error(events.status(), req);
  mesh::EventPage page;
  page.next_after = *after;
  for (auto& e : *events) {
    page.next_after = std::max(page.next_after, e.id);  // past filtered-out events too
    if (filter.Matches(e)) page.events.push_back(std::move(e));
  }
  return Json(mesh::ToJson(page));
}

}  // namespace

void AddEventRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kGet, "/v1/populi/events", AnyRole(), 0, "events.list",
              [&ctx](http::Request& req) { return ListEvents(ctx, req); }});
  // Read-only and above, plus the dedicated metrics token (mesh.observability.metrics_token),
  // which the authenticator confines to this route.
  router.Add({http::Method::kGet, "/metrics", AnyRole(), 0, "metrics",
              [](http::Request&) {
                http::Response r;
                r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                r.body = obs::Registry::Default().Render();
                return r;
              },
              /*runs_inline=*/false, /*liveness=*/false, /*traced=*/false});
}

}  // namespace populi::control
