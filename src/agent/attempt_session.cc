#include "agent/attempt_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "agent/task_worker.h"
#include "obs/span_json.h"

namespace populi::agent {
namespace {

// A chunk grows to this before the next output of its stream starts a new one.
constexpr size_t kMaxMergedChunkBytes = 64 * 1024;

}  // namespace

AttemptSession::AttemptSession(const TaskWorkerOptions& options,
                               const mesh::TaskAssignment& assignment)
    : assignment_(assignment),
      ref_{assignment.attempt, options.node_id, assignment.lease_id, assignment.fencing_token},
      api_(options.control_url, options.token),
      renew_every_ms_(std::max<int64_t>(assignment.lease_ttl_ms / 3, 200)),
      next_renew_ms_(SteadyMs() + renew_every_ms_) {
  api_.http().set_node_id(options.node_id);
  if (!options.tls_ca_file.empty()) api_.http().set_tls_ca_file(options.tls_ca_file);
  renew_.lease_id = assignment.lease_id;
  renew_.holder_node_id = options.node_id;
  renew_.ttl_ms = assignment.lease_ttl_ms;
}

int64_t AttemptSession::SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool AttemptSession::LeaseGone(const Status& s) {
  return s.code() == Code::kNotFound || s.code() == Code::kConflict ||
         s.code() == Code::kFailedPrecondition || s.code() == Code::kGone;
}

Status AttemptSession::ReportStart() {
  return api_.ReportStart(assignment_.task_id, ref_);
}

void AttemptSession::OnOutput(runners::OutputStream stream, std::string_view chunk) {
  std::lock_guard lock(out_mu_);
  const std::string name(runners::ToString(stream));
  if (!pending_.empty() && pending_.back().stream == name &&
      pending_.back().data.size() < kMaxMergedChunkBytes) {
    pending_.back().data.append(chunk);
  } else {
    pending_.push_back({name, std::string(chunk)});
  }
}

void AttemptSession::Flush() {
  mesh::LogsReport report;
  static_cast<mesh::AttemptReport&>(report) = ref_;
  {
    std::lock_guard lock(out_mu_);
    report.chunks.swap(pending_);
  }
  if (report.chunks.empty() || lost_) return;
  Status s = api_.ReportLogs(assignment_.task_id, report);
  if (LeaseGone(s)) {
    lost_ = true;
  } else if (!s.ok()) {
    // The control plane is unreachable for now: keep the output, in order, for the next try.
    std::lock_guard lock(out_mu_);
    report.chunks.insert(report.chunks.end(), std::make_move_iterator(pending_.begin()),
                         std::make_move_iterator(pending_.end()));
    pending_ = std::move(report.chunks);
  }
}

void AttemptSession::RenewIfDue() {
  if (lost_ || SteadyMs() < next_renew_ms_) return;
  // Only acceptance matters: a refusal that says the lease is gone makes the session lost.
  Status s = api_.RenewLease(renew_, {.timeout_ms = static_cast<int>(renew_every_ms_)}).status();
  if (LeaseGone(s)) lost_ = true;
  next_renew_ms_ = SteadyMs() + renew_every_ms_;
}

void AttemptSession::ReportResult(const runners::RunResult& result,
                                  const crypto::Ed25519KeyPair& keys, spdlog::logger& logger) {
  mesh::ResultReport report;
  static_cast<mesh::AttemptReport&>(report) = ref_;
  report.error = result.spawn_error;
  if (report.error.empty() && result.timed_out) report.error = "timeout";
  if (report.error.empty() && result.term_signal != 0)
    report.error = "killed by signal " + std::to_string(result.term_signal);
  report.exit_code = result.exit_code;
  report.stdout_tail = result.stdout_tail;
  report.stderr_tail = result.stderr_tail;
  const std::string signing =
      mesh::ResultSigningText(assignment_.task_id, assignment_.attempt, assignment_.lease_id,
                              assignment_.fencing_token, report.exit_code, report.error,
                              crypto::Sha256Hex(report.stdout_tail + "\n" + report.stderr_tail));
  report.signature_b64 = crypto::SignBase64(keys, signing);
  const int64_t give_up = SteadyMs() + assignment_.lease_ttl_ms;
  for (;;) {
    Flush();  // output held back while the control plane was away goes first
    Status s = api_.ReportResult(assignment_.task_id, report);
    if (s.ok()) {
      logger.info("task {} attempt {}: exit {} reported", assignment_.task_id, assignment_.attempt,
                  report.exit_code);
      return;
    }
    if (LeaseGone(s) || SteadyMs() >= give_up) {
      logger.info("task {} attempt {}: result not accepted ({})", assignment_.task_id,
                  assignment_.attempt, s.message());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

void AttemptSession::SendSpans(const std::vector<obs::Span>& spans) {
  for (size_t at = 0; at < spans.size(); at += obs::kMaxSpansPerBatch) {
    const size_t n = std::min(spans.size() - at, obs::kMaxSpansPerBatch);
    (void)api_.SendSpans(std::vector<obs::Span>(spans.begin() + static_cast<ptrdiff_t>(at),
                                                spans.begin() + static_cast<ptrdiff_t>(at + n)));
  }
}

}  // namespace populi::agent
