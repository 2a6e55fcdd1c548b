#include "agent/inventory_reporter.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "obs/span_json.h"
#include "util/clock.h"

namespace populi::agent {

namespace {

int64_t ReporterSteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* ReportKind(const mesh::InventoryReport& r) {
  if (r.whole()) return "whole";
  return r.refresh ? "refresh" : "diff";
}

// How long the agent stops sending spans after the control plane said its tracing is off.
constexpr int64_t kSpansRefusedPauseMs = 3'600'000;

}  // namespace

InventoryReporter::InventoryReporter(InventoryReporterOptions options,
                                     std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      logger_(logger ? std::move(logger) : spdlog::default_logger()),
      builder_(options_.scan),
      engines_(options_.engines, options_.engine_timeout_ms),
      api_(options_.control_url, options_.token),
      backoff_(
          std::min(options_.backoff_base_ms, options_.poll_ms), options_.poll_ms,
          static_cast<uint64_t>(ReporterSteadyMs()) ^ (static_cast<uint64_t>(::getpid()) << 20)) {
  api_.http().set_node_id(options_.node_id);
  if (!options_.tls_ca_file.empty()) api_.http().set_tls_ca_file(options_.tls_ca_file);
  api_.set_default_timeout_ms(options_.request_timeout_ms);
}

InventoryReporter::~InventoryReporter() {
  Stop();
}

void InventoryReporter::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void InventoryReporter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

InventoryReporterStats InventoryReporter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool InventoryReporter::Sleep(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

mesh::ModelInventory InventoryReporter::Scan(obs::ActiveSpan& span) {
  mesh::ModelInventory inv = builder_.Build();
  inv.node_id = options_.node_id;
  const int engine_errors = engines_.Scan(inv);
  models::CapInventory(inv);
  span.Set("vox.models.count", static_cast<int64_t>(inv.entries.size()))
      .Set("vox.models.problems", static_cast<int64_t>(inv.problems.size()))
      .Set("vox.models.dirs", static_cast<int64_t>(options_.scan.model_dirs.size()))
      .Set("vox.models.engines", static_cast<int64_t>(engines_.endpoints()))
      .Set("vox.models.engine_errors", static_cast<int64_t>(engine_errors));
  return inv;
}

Status InventoryReporter::Report(const mesh::ModelInventory& inv, obs::ActiveSpan& span) {
  for (int attempt = 0;; ++attempt) {
    const mesh::InventoryReport report = models::MakeInventoryReport(acked_, inv, options_.poll_ms);
    span.Set("vox.models.report", std::string(ReportKind(report)));
    auto reply = api_.ReportInventory(report);
    if (reply.ok()) {
      const bool first = acked_.generation == 0;
      acked_ = {reply->generation, inv};
      last_was_refresh_ = report.refresh;
      span.Set("vox.models.generation", reply->generation)
          .Set("vox.models.added", reply->added)
          .Set("vox.models.removed", reply->removed)
          .Set("vox.models.changed", reply->changed);
      std::lock_guard lock(mu_);
      ++(report.whole()   ? stats_.whole_reports
         : report.refresh ? stats_.refreshes
                          : stats_.diff_reports);
      stats_.generation = reply->generation;
      if (first || reply->added + reply->removed + reply->changed > 0) {
        logger_->info("model inventory reported to {}: {} models, +{} -{} ~{} (generation {})",
                      api_.base_url(), inv.entries.size(), reply->added, reply->removed,
                      reply->changed, reply->generation);
      }
      return Status::Ok();
    }
    // The control plane does not hold what this agent thought (a store reset, a node record
    // removed, another generation): the whole inventory next.
    last_was_refresh_ = false;
    const Code code = reply.status().code();
    if (code == Code::kFailedPrecondition || code == Code::kNotFound) acked_ = {};
    if (code != Code::kFailedPrecondition || report.whole() || attempt > 0) return reply.status();
    span.Set("vox.models.resync", true);
    std::lock_guard lock(mu_);
    ++stats_.resyncs;
  }
}

Status InventoryReporter::RunCycle() {
  obs::ActiveSpan span(&spans_, "models.poll", obs::SpanKind::kInternal, obs::TraceContext{},
                       "vox-agent", options_.node_id);
  span.Set("vox.mesh.node_id", options_.node_id);
  obs::ScopedContext current(span.context());
  const mesh::ModelInventory inv = Scan(span);
  Status s = Report(inv, span);
  if (!s.ok()) span.SetError(std::string(CodeName(s.code())) + ": " + s.message());
  std::lock_guard lock(mu_);
  ++stats_.cycles;
  stats_.models = static_cast<int64_t>(inv.entries.size());
  if (s.ok()) {
    stats_.consecutive_failures = 0;
  } else {
    ++stats_.failures;
    ++stats_.consecutive_failures;
  }
  return s;
}

void InventoryReporter::SendSpans(bool at_once) {
  if (!at_once && ++quiet_cycles_ < kSpanBatchCycles) return;
  quiet_cycles_ = 0;
  std::vector<obs::Span> spans = spans_.Take();
  const int64_t now = ReporterSteadyMs();
  if (spans.empty() || now < spans_refused_until_ms_) return;
  for (size_t at = 0; at < spans.size(); at += obs::kMaxSpansPerBatch) {
    const size_t n = std::min(spans.size() - at, obs::kMaxSpansPerBatch);
    Status s =
        api_.SendSpans(std::vector<obs::Span>(spans.begin() + static_cast<ptrdiff_t>(at),
                                              spans.begin() + static_cast<ptrdiff_t>(at + n)));
    if (s.code() == Code::kFailedPrecondition) spans_refused_until_ms_ = now + kSpansRefusedPauseMs;
    if (!s.ok()) return;
  }
}

void InventoryReporter::Loop() {
  if (options_.joined) {
    while (!options_.joined(500)) {
      if (!Sleep(200)) return;
    }
  }
  logger_->info(
      "model inventory: scanning {} directories{}, {} engine endpoints every {} ms",
      options_.scan.model_dirs.size(),
      options_.scan.hf_hub_dir.empty() ? "" : " and the hub cache " + options_.scan.hf_hub_dir,
      engines_.endpoints(), options_.poll_ms);
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    const int64_t started = ReporterSteadyMs();
    Status s = RunCycle();
    SendSpans(!s.ok() || !last_was_refresh_);
    int64_t delay = 0;
    if (s.ok()) {
      std::lock_guard lock(mu_);
      if (backoff_.failures() > 0) {
        logger_->info("model inventory reported again after {} failed tries", backoff_.failures());
      }
      backoff_.Reset();
      delay = std::max<int64_t>(0, options_.poll_ms - (ReporterSteadyMs() - started));
    } else {
      {
        std::lock_guard lock(mu_);
        delay = backoff_.NextDelayMs();
        stats_.last_delay_ms = delay;
      }
      logger_->info("model inventory report to {} failed ({}: {}); try {} in {} ms",
                    api_.base_url(), CodeName(s.code()), s.message(), backoff_.failures() + 1,
                    delay);
    }
    if (!Sleep(delay)) return;
  }
}

}  // namespace populi::agent
