#include "control/api/liveness.h"

#include <algorithm>

namespace populi::control {

using mesh::NodeState;

NodeState Liveness::StateFor(int64_t last_seen_ms, int64_t now_ms) const {
  const int64_t silent = now_ms - last_seen_ms;
  if (silent >= down_ms_) return NodeState::kDown;
  if (silent >= suspect_ms_) return NodeState::kSuspect;
  return NodeState::kAlive;
}

void Liveness::Load(const std::vector<mesh::NodeRecord>& nodes, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (const auto& n : nodes) {
    if (n.state == NodeState::kLeft) continue;
    Entry e;
    e.state = n.state;
    e.last_seen_ms =
        n.state == NodeState::kDown ? n.last_seen_ms : std::max(n.last_seen_ms, now_ms);
    nodes_[n.id] = e;
  }
}

std::optional<NodeState> Liveness::Touch(const std::string& node_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  std::optional<NodeState> previous;
  if (it != nodes_.end()) previous = it->second.state;
  Entry& e = nodes_[node_id];
  e.last_seen_ms = std::max(e.last_seen_ms, now_ms);
  e.state = NodeState::kAlive;
  dirty_[node_id] = e.last_seen_ms;
  return previous;
}

void Liveness::Forget(const std::string& node_id) {
  std::lock_guard lock(mu_);
  nodes_.erase(node_id);
  dirty_.erase(node_id);
}

std::optional<Liveness::Entry> Liveness::Get(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

std::vector<Liveness::Transition> Liveness::Judge(int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::vector<Transition> out;
  for (auto& [id, e] : nodes_) {
    const NodeState next = StateFor(e.last_seen_ms, now_ms);
    if (next != e.state) {
      out.push_back({id, e.state, next, e.last_seen_ms});
      e.state = next;
    }
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> Liveness::TakeDirty() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, int64_t>> out(dirty_.begin(), dirty_.end());
  dirty_.clear();
  return out;
}

}  // namespace populi::control
