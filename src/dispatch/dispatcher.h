// The dispatch engine: placement, the attempt lifecycle and the sweeper's passes, over one
// MeshStore, the scheduler and a Clock. No HTTP: the control plane's routes are thin adapters
// over it, and tests drive it directly with a hand-set clock.
//
// Liveness is kept in memory (heartbeats cost no disk write; last-seen times are persisted in
// batches; after a restart every node gets one down window of grace) and judged alive → suspect
// → down on the clock; each transition is an event. A node judged down loses its task leases at
// once (MESH-165); expired leases lose their attempts; lapsed A2A claims return to their inboxes;
// ended maintenance windows are cleared; retention runs; pending tasks are placed.
//
// Several replicas on one store (docs/store.md): only the holder of the sweeper role (a fenced
// lease in the store) runs Sweep; every write of its passes first checks the role's fencing
// token, so a holder that lost the role (paused past its TTL) writes nothing. Heartbeats may reach
// any replica: every replica persists last-seen times, and the holder folds the stored times
// into memory before judging. Replicas without the role take the stored node states (the
// holder's judgement) into memory instead.
//
// Thread-safe. Lifetime: the store and clock outlive the Dispatcher.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dispatch/liveness.h"
#include "dispatch/options.h"
#include "dispatch/placer.h"
#include "dispatch/scopes.h"
#include "store/mesh_store.h"
#include "util/clock.h"
#include "util/status.h"

namespace populi::dispatch {

struct SweepReport {
  int state_changes = 0;
  int leases_expired = 0;
  int claims_requeued = 0;
  int dead_lettered = 0;
  int maintenance_cleared = 0;
  int nodes_held = 0;     // kept at suspect by the anti-cascade rule (Liveness::Judge)
  int attempts_lost = 0;  // task attempts whose lease expired or whose node went down
  int tasks_placed = 0;
};

class Dispatcher {
 public:
  // Loads the node table into liveness (grace starts now). `announce` wakes waiters on a topic;
  // it is called after commits, never inside a transaction.
  Dispatcher(store::MeshStore& store, const Options& options, const Clock& clock,
             Announce announce);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  Liveness& liveness() { return liveness_; }
  const Liveness& liveness() const { return liveness_; }

  // The one "place pending work now" entry point: after a submit, a lost attempt, a revoke, a
  // node leaving, and at the end of every sweep. Returns how many tasks were placed.
  Result<int> PlacePending() { return placer_.PlacePending(); }
  // Where placement spans go (null: none); set before the first pass.
  void SetSpanSink(obs::SpanSink* spans) { placer_.set_spans(spans); }

  // One sweeper pass at the clock's current time: the named passes below, in order. Fenced by
  // the sweeper role when this replica holds it (HoldSweeperRole); unfenced otherwise (a
  // caller that never asks for the role, e.g. a single-process test).
  Result<SweepReport> Sweep();

  // Acquires or renews the sweeper role for this replica (options.replica_id). True when this
  // replica holds it now; false when another replica's lease is live. Taking the role over
  // (a new fencing token) reloads liveness from the store with one down window of grace, as
  // after a restart, and records a control.sweeper_acquired event.
  Result<bool> HoldSweeperRole();
  // Ends this replica's lease on the role (a clean shutdown), so another takes over at once.
  Status ReleaseSweeperRole();
  bool leading() const;
  // One pass of a replica without the role: persists its buffered last-seen times (every
  // heartbeat interval) and takes the stored node states into memory.
  Status Follow();
  const std::string& replica_id() const { return replica_id_; }

  // The sweeper's real-time gap since its previous pass. A gap far past the sweep interval means
  // this process was paused: nodes get the gap as grace and a control.paused event is recorded.
  Status NoteSweepGap(int64_t elapsed_ms);
  // Writes buffered last-seen times to the store.
  Status FlushLiveness();

  // Connection drops across replicas (sweeper_role.cc). Memory only and never blocking: these run
  // on I/O threads and on the store's topic thread; announcements go through `announce`.
  //
  // A node's held connection dropped here (see Liveness::ConnectionDropped). The sweeper role's
  // holder marks it and returns true when it did: the caller should run a sweep now. Every
  // replica announces it (DroppedTopic): the holder marks an announced drop as if it saw it.
  bool ConnectionDropped(const std::string& node_id);
  // The node holds a connection here again (its agent's next long-poll): clears a drop mark. If
  // a drop of it was announced lately (by any replica) and this replica does not hold the role,
  // the drop is withdrawn the same way (HeldTopic).
  void ConnectionHeld(const std::string& node_id);
  // What another replica announced. Only the holder marks an announced drop (true: sweep now);
  // every replica remembers it for a while, to withdraw it should the node hold a connection
  // with it. Never announced again.
  bool AnnouncedConnectionDropped(const std::string& node_id);
  void AnnouncedConnectionHeld(const std::string& node_id);
  // Announcements may have been missed (the store's topic channel lost its connection): the
  // drops other replicas announced are forgotten, so a withdrawal never heard cannot mark a live
  // node down; those nodes are judged by their silence.
  void ForgetAnnouncedDrops();
  // When the next sweep must run for liveness to be judged on time (each node's own deadline);
  // nullopt when no deadline is pending.
  std::optional<int64_t> NextLivenessDeadlineMs() const {
    return liveness_.NextDeadline(clock_.NowMs());
  }

 private:
  // alive → suspect → down by silence; records transitions and the anti-cascade hold.
  Result<std::vector<Liveness::Transition>> JudgeLiveness(int64_t now, SweepReport& report);
  // Task leases of nodes that just went down are revoked and their attempts lost.
  Status LoseAttemptsOfDownNodes(const std::vector<Liveness::Transition>& transitions, int64_t now,
                                 SweepReport& report);
  // Expired leases lose their attempts; lapsed claims go back to their inboxes (or dead-letter).
  Status ExpireLeasesAndClaims(int64_t now, SweepReport& report);
  Status ClearLapsedMaintenance(const std::vector<mesh::NodeRecord>& nodes, int64_t now,
                                SweepReport& report);
  // store_.Write, first checking the sweeper role's fencing token while this replica holds it.
  Status WriteAsSweeper(const store::WriteFn& fn);
  // Notes a drop announced lately (forgotten after two drop graces); drops_mu_ held.
  void RememberDrop(const std::string& node_id, int64_t now);

  store::MeshStore& store_;
  const Options options_;
  const Clock& clock_;
  const Announce announce_;
  Liveness liveness_;
  Placer placer_;
  int64_t last_flush_ms_ = 0;
  int64_t last_retention_ms_ = 0;
  const std::string replica_id_;
  mutable std::mutex role_mu_;
  int64_t role_token_ = 0;       // the sweeper role's fencing token while held; 0 = not held
  bool followed_ = false;        // another replica held the role since this one started
  int64_t role_renewed_ms_ = 0;  // when the held role was last acquired or renewed
  std::mutex drops_mu_;
  std::map<std::string, int64_t> recent_drops_;  // node → when its drop was announced
};

}  // namespace populi::dispatch
