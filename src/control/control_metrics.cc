#include "control/control_metrics.h"

#include <algorithm>

#include "dispatch/scopes.h"

namespace populi::control {
namespace {

constexpr size_t kMaxRefusalSources = 4096;
constexpr size_t kMaxInboxSeries = 256;  // the deepest inboxes only

std::string StatusLabel(int status) {
  return std::to_string(status);
}

}  // namespace

ControlMetrics::ControlMetrics(ApiContext& ctx)
    : ctx_(ctx),
      requests_(obs::Registry::Default().Counters(
          "populi_http_requests_total", "HTTP requests answered, by route name, method and status.",
          {"route", "method", "status"})),
      latency_(obs::Registry::Default().Histograms(
          "populi_http_request_duration_seconds",
          "Time from a request's first byte to its answer (to the head of an event stream).",
          {"route", "method", "status"}, obs::LatencyBuckets())),
      refusals_(obs::Registry::Default().Counters(
          "populi_http_refusals_total",
          "Requests refused before their handler: rate_limit (429 per token or node id), auth "
          "(401/403), auth_lockout (429 after too many failed authentications).",
          {"reason"}, 8)),
      heartbeats_(obs::Registry::Default().Counters("populi_heartbeats_total",
                                                    "Node heartbeats answered with 200.")) {
  collector_id_ = obs::Registry::Default().AddCollector([this] { return Collect(); });
}

ControlMetrics::~ControlMetrics() {
  obs::Registry::Default().RemoveCollector(collector_id_);
}

void ControlMetrics::ObserveRequest(const http::RequestRecord& record) {
  const std::string status = StatusLabel(record.status);
  const std::string_view method = http::ToString(record.method);
  const std::string_view route = record.route.empty() ? std::string_view("-") : record.route;
  requests_.With({route, method, status}).Inc();
  latency_.With({route, method, status}).Observe(record.duration_ms / 1000.0);
  if (record.route == "nodes.heartbeat" && record.status == 200) heartbeats_.Get().Inc();
  if (!record.refusal.empty()) {
    refusals_.With({record.refusal}).Inc();
    NoteRefusal(record);
  }
}

void ControlMetrics::NoteRefusal(const http::RequestRecord& record) {
  // The source: the token's label when one authenticated (rate limits are per token), else the
  // address. Never the credential itself.
  const std::string source =
      record.principal.empty() ? std::string(record.remote_ip) : std::string(record.principal);
  const int64_t now = ctx_.NowMs();
  int64_t unrecorded = 0;
  {
    std::lock_guard lock(mu_);
    const std::string key = std::string(record.refusal) + " " + source;
    auto it = windows_.find(key);
    if (it != windows_.end() && now - it->second.started_ms < kRefusalWindowMs) {
      ++it->second.unrecorded;
      return;
    }
    if (it == windows_.end()) {
      if (windows_.size() >= kMaxRefusalSources) {
        // Forget windows that ended; a flood from ever new sources stays bounded.
        std::erase_if(windows_, [now](const auto& w) {
          return now - w.second.started_ms >= kRefusalWindowMs;
        });
        if (windows_.size() >= kMaxRefusalSources) return;
      }
      it = windows_.emplace(key, Window{}).first;
    }
    unrecorded = it->second.unrecorded;
    it->second = Window{now, 0};
  }
  const char* kind = record.refusal == "rate_limit" ? "http.rate_limited" : "auth.refused";
  mesh::Event e = MakeEvent(now, kind, source,
                            {{"reason", std::string(record.refusal)},
                             {"route", std::string(record.route)},
                             {"status", record.status},
                             {"remote_ip", std::string(record.remote_ip)},
                             {"unrecorded_before", unrecorded},
                             {"window_ms", kRefusalWindowMs}});
  ctx_.store.SubmitWrite(
      [e = std::move(e)](store::WriteTxn& txn) { return txn.AppendEvent(e).status(); },
      [this](Status) { ctx_.Notify(dispatch::kEventsTopic); });
}

std::vector<obs::CollectedFamily> ControlMetrics::Collect() {
  std::vector<obs::CollectedFamily> out;
  if (auto stats = ctx_.store.Stats(); stats.ok()) {
    out.push_back({"populi_store_size_bytes",
                   "Size of the store's files on disk.",
                   obs::MetricType::kGauge,
                   {},
                   {{{}, static_cast<double>(stats->size_bytes)}}});
    obs::CollectedFamily rows{
        "populi_store_rows", "Rows per store table.", obs::MetricType::kGauge, {"table"}, {}};
    for (const auto& [table, n] : stats->row_counts) {
      rows.samples.push_back({{table}, static_cast<double>(n)});
    }
    out.push_back(std::move(rows));
  }
  auto pending = ctx_.store.PendingByReceiver();
  std::sort(pending.begin(), pending.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  if (pending.size() > kMaxInboxSeries) pending.resize(kMaxInboxSeries);
  obs::CollectedFamily inbox{"populi_inbox_depth",
                             "Pending or claimed messages per receiver (the deepest 256).",
                             obs::MetricType::kGauge,
                             {"receiver"},
                             {}};
  for (const auto& [receiver, n] : pending) {
    inbox.samples.push_back({{receiver}, static_cast<double>(n)});
  }
  out.push_back(std::move(inbox));
  if (auto nodes = ctx_.store.ListNodes(); nodes.ok()) {
    std::map<std::string, double> by_state;
    for (const auto s :
         {mesh::NodeState::kAlive, mesh::NodeState::kSuspect, mesh::NodeState::kDown}) {
      by_state[std::string(mesh::ToString(s))] = 0;
    }
    for (const auto& n : *nodes) {
      auto live = ctx_.liveness.Get(n.id);
      by_state[std::string(mesh::ToString(live ? live->state : n.state))] += 1;
    }
    obs::CollectedFamily f{"populi_nodes",
                           "Registered nodes by liveness state.",
                           obs::MetricType::kGauge,
                           {"state"},
                           {}};
    for (const auto& [state, n] : by_state) f.samples.push_back({{state}, n});
    out.push_back(std::move(f));
  }
  store::TaskQuery active;
  active.active_only = true;
  active.limit = 100'000;
  if (auto tasks = ctx_.store.ListTasks(active); tasks.ok()) {
    std::map<std::string, double> by_state;
    for (const auto s :
         {mesh::TaskState::kPending, mesh::TaskState::kPlaced, mesh::TaskState::kRunning}) {
      by_state[std::string(mesh::ToString(s))] = 0;
    }
    for (const auto& t : *tasks) by_state[std::string(mesh::ToString(t.state))] += 1;
    obs::CollectedFamily f{"populi_tasks",
                           "Tasks that have not ended, by state (pending, placed, running).",
                           obs::MetricType::kGauge,
                           {"state"},
                           {}};
    for (const auto& [state, n] : by_state) f.samples.push_back({{state}, n});
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace populi::control
