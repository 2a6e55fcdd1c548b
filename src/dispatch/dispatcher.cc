#include "dispatch/dispatcher.h"

#include <algorithm>

#include "dispatch/attempts.h"
#include "mesh/json.h"
#include "util/random.h"

namespace populi::dispatch {

Dispatcher::Dispatcher(store::MeshStore& store, const Options& options, const Clock& clock,
                       Announce announce)
    : store_(store),
      options_(options),
      clock_(clock),
      announce_(std::move(announce)),
      liveness_(options_.suspect_ms(), options_.down_ms(), 2 * options_.heartbeat_ms,
                options_.connection_drop_grace_ms),
      placer_(store_, options_, clock_, liveness_, announce_),
      replica_id_(options_.replica_id.empty() ? "replica-" + RandomHex(6) : options_.replica_id) {
  // A store that cannot list nodes leaves liveness empty; nodes re-enter on their next
  // heartbeat, and the failure surfaces on the first route that reads the store.
  if (auto nodes = store_.ListNodes(); nodes.ok()) liveness_.Load(*nodes, clock_.NowMs());
  last_flush_ms_ = last_retention_ms_ = clock_.NowMs();
}

Status Dispatcher::NoteSweepGap(int64_t elapsed_ms) {
  const int64_t threshold = std::max(3 * options_.sweep_interval_ms, options_.heartbeat_ms);
  if (elapsed_ms <= threshold) return Status::Ok();
  const int64_t gap = elapsed_ms - options_.sweep_interval_ms;
  const int64_t now = clock_.NowMs();
  const int forgiven = liveness_.ForgiveGap(gap, now);
  Status s = WriteAsSweeper([&](store::WriteTxn& txn) -> Status {
    return txn
        .AppendEvent(mesh::MakeEvent(now, "control.paused", "control-plane",
                                     {{"gap_ms", gap}, {"nodes_forgiven", forgiven}}))
        .status();
  });
  if (announce_) announce_(kEventsTopic);
  return s;
}

Status Dispatcher::FlushLiveness() {
  auto dirty = liveness_.TakeDirty();
  if (dirty.empty()) return Status::Ok();
  return store_.Write([&](store::WriteTxn& txn) -> Status {
    for (const auto& [id, seen] : dirty) {
      Status s = txn.TouchNode(id, seen);
      if (!s.ok() && s.code() != Code::kNotFound) return s;  // a node that left is skipped
    }
    return Status::Ok();
  });
}

Result<std::vector<Liveness::Transition>> Dispatcher::JudgeLiveness(int64_t now,
                                                                    SweepReport& report) {
  Liveness::MassSilence mass_silence;
  auto transitions = liveness_.Judge(now, &mass_silence);
  report.nodes_held = mass_silence.held;
  report.state_changes = static_cast<int>(transitions.size());
  if (transitions.empty() && !mass_silence.started) return transitions;
  POPULI_RETURN_IF_ERROR(WriteAsSweeper([&](store::WriteTxn& txn) -> Status {
    if (mass_silence.started) {
      POPULI_RETURN_IF_ERROR(
          txn.AppendEvent(mesh::MakeEvent(now, "mesh.mass_silence", "control-plane",
                                          {{"silent", mass_silence.silent},
                                           {"tracked", mass_silence.tracked},
                                           {"hold_until_ms", mass_silence.hold_until_ms}}))
              .status());
    }
    for (const auto& t : transitions) {
      Status s = txn.SetNodeState(t.node_id, t.to);
      if (s.code() == Code::kNotFound) continue;
      POPULI_RETURN_IF_ERROR(s);
      POPULI_RETURN_IF_ERROR(txn.TouchNode(t.node_id, t.last_seen_ms));
      POPULI_RETURN_IF_ERROR(
          txn
              .AppendEvent(mesh::MakeEvent(
                  now, "node." + std::string(mesh::ToString(t.to)), t.node_id,
                  {{"from", mesh::ToString(t.from)},
                   {"last_seen_ms", t.last_seen_ms},
                   {"silent_ms", now - t.last_seen_ms},
                   {"reason", t.connection_dropped ? "connection_dropped" : "heartbeat_silence"}}))
              .status());
    }
    return Status::Ok();
  }));
  return transitions;
}

Status Dispatcher::LoseAttemptsOfDownNodes(const std::vector<Liveness::Transition>& transitions,
                                           int64_t now, SweepReport& report) {
  std::vector<std::string> down_nodes;
  for (const auto& t : transitions)
    if (t.to == mesh::NodeState::kDown) down_nodes.push_back(t.node_id);
  if (down_nodes.empty()) return Status::Ok();
  POPULI_ASSIGN_OR_RETURN(auto live, store_.ListLeases(/*live_only=*/true, now));
  return WriteAsSweeper([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(int lost, LoseAttemptsHeldBy(txn, live, down_nodes, "node_down", now));
    report.attempts_lost += lost;
    return Status::Ok();
  });
}

Status Dispatcher::ExpireLeasesAndClaims(int64_t now, SweepReport& report) {
  std::vector<std::string> requeued_receivers;
  POPULI_RETURN_IF_ERROR(WriteAsSweeper([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto expired, txn.ExpireLeases(now));
    for (const auto& l : expired) {
      POPULI_RETURN_IF_ERROR(
          txn.AppendEvent(mesh::MakeEvent(
                              now, "lease.expired", l.lease_id,
                              {{"scope_key", l.scope_key}, {"holder_node_id", l.holder_node_id}}))
              .status());
      if (auto task_id = TaskIdOfScope(l.scope_key)) {
        POPULI_RETURN_IF_ERROR(MarkAttemptLost(txn, *task_id, l.lease_id, "lease_expired", now));
        ++report.attempts_lost;
      }
    }
    report.leases_expired = static_cast<int>(expired.size());
    POPULI_ASSIGN_OR_RETURN(auto swept, txn.SweepExpiredClaims(now, options_.a2a_max_deliveries));
    report.claims_requeued = swept.requeued;
    report.dead_lettered = swept.dead_lettered;
    requeued_receivers = std::move(swept.receivers);
    return Status::Ok();
  }));
  // A row whose claim lapsed is claimable again: wake the long-polls parked on its inbox.
  if (announce_)
    for (const auto& receiver : requeued_receivers) announce_(NodeInboxTopic(receiver));
  return Status::Ok();
}

Status Dispatcher::ClearLapsedMaintenance(const std::vector<mesh::NodeRecord>& nodes, int64_t now,
                                          SweepReport& report) {
  std::vector<std::string> lapsed;
  for (const auto& n : nodes)
    if (n.maintenance && n.maintenance_until_ms != 0 && now >= n.maintenance_until_ms)
      lapsed.push_back(n.id);
  if (lapsed.empty()) return Status::Ok();
  POPULI_RETURN_IF_ERROR(WriteAsSweeper([&](store::WriteTxn& txn) -> Status {
    for (const auto& id : lapsed) {
      POPULI_RETURN_IF_ERROR(txn.SetMaintenance(id, false, 0));
      POPULI_RETURN_IF_ERROR(
          txn.AppendEvent(mesh::MakeEvent(now, "node.maintenance_ended", id)).status());
    }
    return Status::Ok();
  }));
  report.maintenance_cleared = static_cast<int>(lapsed.size());
  return Status::Ok();
}

Result<SweepReport> Dispatcher::Sweep() {
  SweepReport report;
  const int64_t now = clock_.NowMs();
  // Heartbeats other replicas heard (and nodes that joined or left there) reach memory first.
  POPULI_ASSIGN_OR_RETURN(auto nodes, store_.ListNodes());
  liveness_.Fold(nodes);
  POPULI_ASSIGN_OR_RETURN(auto transitions, JudgeLiveness(now, report));
  if (now - last_flush_ms_ >= options_.liveness_flush_ms) {
    POPULI_RETURN_IF_ERROR(FlushLiveness());
    last_flush_ms_ = now;
  }
  POPULI_RETURN_IF_ERROR(LoseAttemptsOfDownNodes(transitions, now, report));
  POPULI_RETURN_IF_ERROR(ExpireLeasesAndClaims(now, report));
  POPULI_RETURN_IF_ERROR(ClearLapsedMaintenance(nodes, now, report));
  if (now - last_retention_ms_ >= kRetentionIntervalMs) {
    POPULI_RETURN_IF_ERROR(store_.RunRetention(now, options_.retention_ms, 1000).status());
    last_retention_ms_ = now;
  }
  POPULI_ASSIGN_OR_RETURN(report.tasks_placed, PlacePending());
  if (report.state_changes + report.leases_expired + report.maintenance_cleared +
              report.attempts_lost + report.tasks_placed >
          0 &&
      announce_) {
    announce_(kEventsTopic);
  }
  return report;
}

}  // namespace populi::dispatch
