#include "agent/attempt_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "agent/task_worker.h"
#include "mesh/json.h"
#include "mesh/task_json.h"

namespace populi::agent {
namespace {

// A chunk grows to this before the next output of its stream starts a new one.
constexpr size_t kMaxMergedChunkBytes = 64 * 1024;

}  // namespace

AttemptSession::AttemptSession(const TaskWorkerOptions& options,
                               const mesh::TaskAssignment& assignment)
    : assignment_(assignment),
      ref_{assignment.attempt, options.node_id, assignment.lease_id, assignment.fencing_token},
      http_(options.control_url, options.token),
      base_("/v1/populi/tasks/" + assignment.task_id),
      renew_every_ms_(std::max<int64_t>(assignment.lease_ttl_ms / 3, 200)),
      next_renew_ms_(SteadyMs() + renew_every_ms_) {
  http_.set_node_id(options.node_id);
  if (!options.tls_ca_file.empty()) http_.set_tls_ca_file(options.tls_ca_file);
  mesh::LeaseRequest renew;
  renew.lease_id = assignment.lease_id;
  renew.holder_node_id = options.node_id;
  renew.ttl_ms = assignment.lease_ttl_ms;
  renew_body_ = mesh::Serialize(mesh::ToJson(renew));
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
  return http_.Send("POST", base_ + "/start", mesh::Serialize(mesh::ToJson(ref_))).status();
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
  Status s = http_.Send("POST", base_ + "/logs", mesh::Serialize(mesh::ToJson(report))).status();
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
  Status s = http_
                 .Send("POST", "/v1/populi/exec/lease/renew", renew_body_, {},
                       static_cast<int>(renew_every_ms_))
                 .status();
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
  const std::string body = mesh::Serialize(mesh::ToJson(report));
  const int64_t give_up = SteadyMs() + assignment_.lease_ttl_ms;
  for (;;) {
    Flush();  // output held back while the control plane was away goes first
    Status s = http_.Send("POST", base_ + "/result", body).status();
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

}  // namespace populi::agent
