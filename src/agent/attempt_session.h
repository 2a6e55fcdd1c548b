// One task attempt's conversation with the control plane (docs/tasks.md): the start report,
// buffered output sent as log reports, lease renewals at TTL/3 and the signed result. Every
// report names the attempt (mesh::AttemptReport); once the control plane says the lease is gone
// (404 / 409 / 410 / failed precondition) the session is `lost` and reports nothing more.
// Internal to the agent.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runners/exec_runner.h"
#include "client/control_plane_api.h"
#include "crypto/ed25519.h"
#include "mesh/json.h"
#include "mesh/task.h"

namespace spdlog {
class logger;
}

namespace populi::agent {

struct TaskWorkerOptions;

class AttemptSession {
 public:
  AttemptSession(const TaskWorkerOptions& options, const mesh::TaskAssignment& assignment);

  // POST …/start. Not ok: the attempt must not run (the lease or the task is gone).
  Status ReportStart();

  // Buffers output (thread-safe; called from the runner's thread).
  void OnOutput(runners::OutputStream stream, std::string_view chunk);
  // Sends what is buffered. A failure that is not "lease gone" keeps it, in order, for the next
  // try; "lease gone" makes the session lost.
  void Flush();
  // Renews the lease when TTL/3 has passed since the last renewal.
  void RenewIfDue();

  // Sends this agent's recorded spans; a failure only loses them (they are diagnostics).
  void SendSpans(const std::vector<obs::Span>& spans);

  bool lost() const { return lost_; }
  void MarkLost() { lost_ = true; }

  // Signs and sends the result, retrying transient failures while the lease can still be live.
  void ReportResult(const runners::RunResult& result, const crypto::Ed25519KeyPair& keys,
                    spdlog::logger& logger);

 private:
  static bool LeaseGone(const Status& s);
  static int64_t SteadyMs();

  const mesh::TaskAssignment& assignment_;
  mesh::AttemptReport ref_;
  client::ControlPlaneApi api_;
  const int64_t renew_every_ms_;
  int64_t next_renew_ms_;
  mesh::LeaseRequest renew_;
  bool lost_ = false;

  std::mutex out_mu_;
  std::vector<mesh::LogChunk> pending_;  // consecutive output of one stream is merged
};

}  // namespace populi::agent
