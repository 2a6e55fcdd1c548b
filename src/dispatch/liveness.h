// In-memory liveness of joined nodes. Heartbeats only touch memory; the sweeper judges states
// and persists last-seen times in batches, so a heartbeat costs no disk write unless the node's
// state changes. Two kinds of evidence:
//   - silence: no heartbeat for suspect_ms → suspect, for down_ms → down (a host that vanished
//     without closing its sockets: power loss, a cable);
//   - a dropped connection: the agent's held long-poll closed without a leave (its process died)
//     → suspect at once, down after drop_grace_ms unless the node is heard from again.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mesh/types.h"

namespace populi::dispatch {

class Liveness {
 public:
  // `silence_window_ms`: nodes whose last heartbeats lie within this span "fell silent together"
  // (the anti-cascade rule below).
  Liveness(int64_t suspect_ms, int64_t down_ms, int64_t silence_window_ms = 0,
           int64_t drop_grace_ms = 2'000)
      : suspect_ms_(suspect_ms),
        down_ms_(down_ms),
        silence_window_ms_(silence_window_ms),
        drop_grace_ms_(drop_grace_ms) {}

  struct Entry {
    int64_t last_seen_ms = 0;
    mesh::NodeState state = mesh::NodeState::kAlive;
    int64_t dropped_ms = 0;  // when its held connection dropped; 0 = none since last heard from
    bool drop_announced = false;  // that drop was seen at another replica, which announced it
  };
  struct Transition {
    std::string node_id;
    mesh::NodeState from;
    mesh::NodeState to;
    int64_t last_seen_ms;
    bool connection_dropped = false;  // judged on a dropped connection, not on silence
  };

  // Seeds memory from the store after a start. Nodes that were not down get one down_after of
  // grace from `now_ms`: their clock restarts, so a control-plane restart never marks a healthy
  // mesh down.
  void Load(const std::vector<mesh::NodeRecord>& nodes, int64_t now_ms);
  // Several replicas on one store: heartbeats that reached another replica arrive here as the
  // stored last-seen times. Fold (the sweeper role's holder, before judging): a stored time later
  // than memory's moves the node's silence clock forward (and clears a drop seen before it); a
  // node another replica revived (stored alive with a later time) is alive; nodes joined
  // elsewhere are added with their stored state, nodes gone from the store (left) are dropped
  // unless touched here since. Adopt (the other replicas): as Fold, but every node takes its
  // stored state (the holder's judgement) unless this replica heard from it since the stored
  // time.
  void Fold(const std::vector<mesh::NodeRecord>& nodes);
  void Adopt(const std::vector<mesh::NodeRecord>& nodes);
  // A heartbeat or join: the node is alive now. Returns the state it had (nullopt if unknown).
  std::optional<mesh::NodeState> Touch(const std::string& node_id, int64_t now_ms);
  void Forget(const std::string& node_id);
  // The node's held connection (its agent's long-poll) closed without a leave. False when the
  // node is unknown, down, or already marked. The next Judge makes it suspect; it goes down
  // drop_grace_ms after `now_ms` unless Touch or ConnectionHeld comes first. `announced`: another
  // replica saw the drop and announced it (ForgetAnnouncedDrops).
  bool ConnectionDropped(const std::string& node_id, int64_t now_ms, bool announced = false);
  // Clears the drop marks other replicas announced: their withdrawals may have been missed, so
  // those nodes are judged by their silence from here. Returns how many were cleared.
  int ForgetAnnouncedDrops();
  // The node holds a connection again (a new long-poll): clears a drop mark, so an agent that
  // reconnects within the grace never goes down. Does not revive a down node.
  void ConnectionHeld(const std::string& node_id);
  // The earliest time after `now_ms` at which Judge would change some node's state (a silence
  // threshold, a drop's grace, the end of an anti-cascade hold); nullopt when none is pending.
  std::optional<int64_t> NextDeadline(int64_t now_ms) const;
  std::optional<Entry> Get(const std::string& node_id) const;
  // What the anti-cascade rule did in one Judge pass.
  struct MassSilence {
    bool started = false;  // this pass detected it (emit one warning)
    int held = 0;          // nodes kept at suspect instead of down in this pass
    int silent = 0;        // nodes that fell silent together
    int tracked = 0;       // nodes that were alive or suspect
    int64_t hold_until_ms = 0;
  };

  // Moves each node that is not down to the state its silence implies and returns the changes
  // (a down node comes back only when heard from: Touch, or a revival Fold takes from the store).
  //
  // Anti-cascade: when at least two nodes and more than half of the nodes that were alive or
  // suspect would go down in one pass, and their last heartbeats lie within silence_window_ms
  // (they fell silent together: the control plane was partitioned or starved, not the nodes),
  // they are held at suspect for one more down window; `mass_silence` reports it. Nodes still
  // silent after the hold go down.
  std::vector<Transition> Judge(int64_t now_ms, MassSilence* mass_silence = nullptr);
  // The control plane itself did not run for `gap_ms` (a pause: SIGSTOP, a VM freeze, a long
  // GC-like stall): nobody could reach it, so every tracked node's silence clock is moved forward
  // by the gap (never past `now_ms`). Returns how many nodes got the grace.
  int ForgiveGap(int64_t gap_ms, int64_t now_ms);
  // Last-seen times touched since the previous call (for a batched store write).
  std::vector<std::pair<std::string, int64_t>> TakeDirty();

 private:
  mesh::NodeState StateFor(const Entry& e, int64_t now_ms) const;
  void Merge(const std::vector<mesh::NodeRecord>& nodes, bool adopt_state);

  const int64_t suspect_ms_;
  const int64_t down_ms_;
  const int64_t silence_window_ms_;
  const int64_t drop_grace_ms_;
  int64_t hold_until_ms_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, Entry> nodes_;
  std::map<std::string, int64_t> dirty_;
};

// The stored record with the in-memory liveness laid over it (state, last seen) and a lapsed
// maintenance window shown as off (the sweeper clears the stored flag).
mesh::NodeRecord WithLiveness(const Liveness& liveness, mesh::NodeRecord n, int64_t now_ms);

}  // namespace populi::dispatch
