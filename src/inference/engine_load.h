// When the control plane writes what a node's engines say of their load (docs/inference.md,
// "Engine truth"). The loads arrive with every heartbeat; heartbeats themselves only touch
// memory, so a write is the cost to bound: a node's loads are written when they change, and
// rewritten unchanged every kEngineLoadKeepaliveBeats heartbeat intervals so every replica on
// the store can tell a quiet engine from a report nobody refreshes (fresh for
// kEngineLoadFreshBeats intervals after it was written). In memory, per control plane, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mesh/inference.h"

namespace populi::inference {

inline constexpr int64_t kEngineLoadKeepaliveBeats = 5;
inline constexpr int64_t kEngineLoadFreshBeats = 8;

// Equal loads, the time they were observed aside.
bool SameEngineLoads(const std::vector<mesh::EngineLoad>& a,
                     const std::vector<mesh::EngineLoad>& b);

class EngineLoadWrites {
 public:
  enum class Action { kNone, kWrite, kDelete };

  explicit EngineLoadWrites(int64_t heartbeat_ms) : heartbeat_ms_(heartbeat_ms) {}

  // What to do with the loads a heartbeat of `node_id` carried at `now_ms`: kWrite when they
  // differ from what this control plane wrote last or that is kEngineLoadKeepaliveBeats old;
  // kDelete when they are empty and it wrote some; kNone otherwise. A write or delete is taken
  // as done; Failed undoes that.
  Action Next(const std::string& node_id, const std::vector<mesh::EngineLoad>& loads,
              int64_t now_ms);
  // The write for `node_id` failed: the next heartbeat writes again.
  void Failed(const std::string& node_id);
  // The stored row for `loads` received at `now_ms`.
  mesh::NodeEngineLoad Row(const std::string& node_id, std::vector<mesh::EngineLoad> loads,
                           int64_t now_ms) const;

 private:
  struct Written {
    std::vector<mesh::EngineLoad> loads;
    int64_t at_ms = 0;
  };
  const int64_t heartbeat_ms_;
  std::mutex mu_;
  std::map<std::string, Written> written_;
};

}  // namespace populi::inference
