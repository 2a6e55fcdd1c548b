// The agent's task worker (docs/tasks.md): claims this node's task assignments from its task inbox
// (long-poll), runs each attempt with the exec runner, and reports start, output and a signed
// result for the attempt whose exec lease this node holds.
//
// Lease discipline: the lease is renewed every TTL/3. A renew (or any report) answered 404/409
// means the lease is gone — expired, revoked, or a newer attempt exists — so the process group
// is killed at once and nothing more is reported for that attempt (`lease_lost`). A control plane
// that is merely unreachable does not stop the task; if it stays away past the TTL, the first
// renew after it returns is refused and the local copy is stopped then.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/runners/exec_runner.h"
#include "agent/secret_courier.h"
#include "crypto/ed25519.h"
#include "mesh/types.h"
#include "obs/span_store.h"
#include "probe/capacity.h"

namespace spdlog {
class logger;
}

namespace populi::mesh {
struct InboxPage;
struct InboxRequest;
}  // namespace populi::mesh

namespace populi::agent {

class AttemptSession;

struct TaskWorkerOptions {
  std::string control_url;
  std::string token;
  std::string tls_ca_file;
  std::string node_id;
  runners::ExecPolicy policy;
  std::string scratch_root;  // empty: $TMPDIR or /tmp
  // Records of the attempts running here (runners/leftovers.h); Start() first ends what an
  // earlier life of the agent left running. Empty: no records.
  std::string run_records_dir;
  int64_t poll_wait_ms = 10'000;  // inbox long-poll; also bounds how long Stop() waits
  int64_t log_flush_ms = 100;     // output is sent at least this often while a task runs
  mesh::DonationPolicy donation;  // re-checked here for every assignment (mesh::DonationRefusal)
  // Where an attempt's secrets come from (agent/secret_courier.h); its data_dir empty: a task
  // naming secrets is refused here.
  SecretsOptions secrets;
  // Claims start once this says the node has joined (a claim before the join is refused 403);
  // called with a wait in ms. Empty: claim at once.
  std::function<bool(int64_t)> joined;
};

class TaskWorker {
 public:
  // `on_running` is told the reservations of the attempts running here whenever they change
  // (the agent folds them into its Layer B figures).
  using RunningFn = std::function<void(std::vector<probe::TaskReservation>)>;

  TaskWorker(TaskWorkerOptions options, crypto::Ed25519KeyPair keys, RunningFn on_running,
             std::shared_ptr<spdlog::logger> logger);
  ~TaskWorker();  // Stop()
  TaskWorker(const TaskWorker&) = delete;
  TaskWorker& operator=(const TaskWorker&) = delete;

  void Start();
  // Stops polling and kills every running attempt (their leases lapse or are revoked when the
  // node leaves, and the tasks are placed elsewhere). Idempotent.
  void Stop();

  int running() const;

  struct Assignment;  // one attempt handed to this node (defined in task_worker.cc)

 private:
  void PollLoop();
  // Starts an attempt thread for each new assignment of `page` and records the page's ids and
  // claim token in `request`, so the next poll acknowledges them.
  void TakePage(const mesh::InboxPage& page, mesh::InboxRequest& request);
  void RunAttempt(std::shared_ptr<Assignment> a);
  // Starts the process (or refuses it) and supervises it to its end.
  runners::RunResult RunProcess(Assignment& a, AttemptSession& session,
                                const obs::TraceContext& run_context);
  // The values of the secrets `a` names (FetchSecrets), under a secrets.fetch span.
  Result<std::map<std::string, std::string>> FetchTaskSecrets(const Assignment& a,
                                                              AttemptSession& session,
                                                              const obs::TraceContext& run_context);
  // Flushes output and renews the lease while `run` runs; kills it when the lease is lost.
  runners::RunResult Supervise(const Assignment& a, runners::ExecRun& run, AttemptSession& session);
  void FinishAttempt(const Assignment& a);
  // Joins the threads of attempts that have finished (PollLoop calls it every round).
  void JoinFinished();
  void PublishRunning();
  bool Sleep(int64_t ms);

  TaskWorkerOptions options_;
  crypto::Ed25519KeyPair keys_;
  RunningFn on_running_;
  std::shared_ptr<spdlog::logger> logger_;
  // The attempts' spans (task.run, runner.start, task.process), sent to the control plane when
  // each attempt ends.
  obs::SpanBuffer spans_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Assignment>> running_;  // "task#attempt" → assignment
  // One thread per attempt, by a serial number; an attempt's thread adds its number to
  // finished_ as its last act and is joined by the next JoinFinished() (or Stop()). So the
  // threads kept are the running attempts' plus those that ended since the poller's last round.
  std::map<uint64_t, std::thread> threads_;
  std::vector<uint64_t> finished_;
  uint64_t next_thread_ = 0;
  std::thread poller_;
};

}  // namespace populi::agent
