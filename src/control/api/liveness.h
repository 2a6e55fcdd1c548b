// In-memory liveness of joined nodes. Heartbeats only touch memory; the sweeper judges states
// and persists last-seen times in batches, so a heartbeat costs no disk write unless the node's
// state changes. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mesh/types.h"

namespace populi::control {

class Liveness {
 public:
  Liveness(int64_t suspect_ms, int64_t down_ms) : suspect_ms_(suspect_ms), down_ms_(down_ms) {}

  struct Entry {
    int64_t last_seen_ms = 0;
    mesh::NodeState state = mesh::NodeState::kAlive;
  };
  struct Transition {
    std::string node_id;
    mesh::NodeState from;
    mesh::NodeState to;
    int64_t last_seen_ms;
  };

  // Seeds memory from the store after a start. Nodes that were not down get one down_after of
  // grace from `now_ms`: their clock restarts, so a control-plane restart never marks a healthy
  // mesh down.
  void Load(const std::vector<mesh::NodeRecord>& nodes, int64_t now_ms);
  // A heartbeat or join: the node is alive now. Returns the state it had (nullopt if unknown).
  std::optional<mesh::NodeState> Touch(const std::string& node_id, int64_t now_ms);
  void Forget(const std::string& node_id);
  std::optional<Entry> Get(const std::string& node_id) const;
  // Moves each node to the state its silence implies and returns the changes.
  std::vector<Transition> Judge(int64_t now_ms);
  // Last-seen times touched since the previous call (for a batched store write).
  std::vector<std::pair<std::string, int64_t>> TakeDirty();

 private:
  mesh::NodeState StateFor(int64_t last_seen_ms, int64_t now_ms) const;

  const int64_t suspect_ms_;
  const int64_t down_ms_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> nodes_;
  std::map<std::string, int64_t> dirty_;
};

}  // namespace populi::control
