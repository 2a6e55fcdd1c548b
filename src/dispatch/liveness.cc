#include "dispatch/liveness.h"

#include <algorithm>
#include <climits>

#include "mesh/policy.h"

namespace populi::dispatch {

using mesh::NodeState;

NodeState Liveness::StateFor(const Entry& e, int64_t now_ms) const {
  const int64_t silent = now_ms - e.last_seen_ms;
  if (silent >= down_ms_) return NodeState::kDown;
  if (e.dropped_ms != 0) {
    return now_ms - e.dropped_ms >= drop_grace_ms_ ? NodeState::kDown : NodeState::kSuspect;
  }
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

void Liveness::Fold(const std::vector<mesh::NodeRecord>& nodes) {
  Merge(nodes, /*adopt_state=*/false);
}

void Liveness::Adopt(const std::vector<mesh::NodeRecord>& nodes) {
  Merge(nodes, /*adopt_state=*/true);
}

void Liveness::Merge(const std::vector<mesh::NodeRecord>& nodes, bool adopt_state) {
  std::lock_guard lock(mu_);
  std::map<std::string, bool> stored;
  for (const auto& n : nodes) {
    if (n.state == NodeState::kLeft) continue;
    stored[n.id] = true;
    auto it = nodes_.find(n.id);
    if (it == nodes_.end()) {
      nodes_[n.id] = Entry{n.last_seen_ms, n.state, 0};
      continue;
    }
    Entry& e = it->second;
    const bool heard_here_since = e.last_seen_ms > n.last_seen_ms;
    if (!heard_here_since) {
      if (e.dropped_ms != 0 && n.last_seen_ms > e.dropped_ms) e.dropped_ms = 0;
      const bool revived = n.state == NodeState::kAlive && e.state != NodeState::kAlive &&
                           n.last_seen_ms > e.last_seen_ms;
      e.last_seen_ms = n.last_seen_ms;
      if (adopt_state || revived) e.state = n.state;
    } else if (adopt_state && e.state != NodeState::kAlive) {
      e.state = n.state;  // not heard from as alive here: the holder's judgement stands
    }
  }
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (stored.count(it->first) == 0 && dirty_.count(it->first) == 0) {
      it = nodes_.erase(it);
    } else {
      ++it;
    }
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
  e.dropped_ms = 0;
  dirty_[node_id] = e.last_seen_ms;
  return previous;
}

void Liveness::Forget(const std::string& node_id) {
  std::lock_guard lock(mu_);
  nodes_.erase(node_id);
  dirty_.erase(node_id);
}

bool Liveness::ConnectionDropped(const std::string& node_id, int64_t now_ms, bool announced) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end() || it->second.state == NodeState::kDown || it->second.dropped_ms != 0)
    return false;
  it->second.dropped_ms = std::max<int64_t>(now_ms, 1);
  it->second.drop_announced = announced;
  return true;
}

int Liveness::ForgetAnnouncedDrops() {
  std::lock_guard lock(mu_);
  int cleared = 0;
  for (auto& [id, e] : nodes_) {
    if (e.dropped_ms == 0 || !e.drop_announced) continue;
    e.dropped_ms = 0;
    ++cleared;
  }
  return cleared;
}

void Liveness::ConnectionHeld(const std::string& node_id) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  if (it != nodes_.end() && it->second.state != NodeState::kDown) it->second.dropped_ms = 0;
}

std::optional<int64_t> Liveness::NextDeadline(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  std::optional<int64_t> next;
  auto consider = [&](int64_t t) {
    if (t > now_ms && (!next || t < *next)) next = t;
  };
  for (const auto& [id, e] : nodes_) {
    if (e.state == NodeState::kDown) continue;
    consider(e.last_seen_ms + down_ms_);
    if (e.dropped_ms != 0) {
      if (e.state == NodeState::kAlive) return now_ms;  // suspect at once: judge now
      consider(e.dropped_ms + drop_grace_ms_);
    } else if (e.state == NodeState::kAlive) {
      consider(e.last_seen_ms + suspect_ms_);
    }
  }
  if (hold_until_ms_ != 0) consider(hold_until_ms_);
  return next;
}

std::optional<Liveness::Entry> Liveness::Get(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

std::vector<Liveness::Transition> Liveness::Judge(int64_t now_ms, MassSilence* mass_silence) {
  std::lock_guard lock(mu_);
  MassSilence report;
  // Nodes that would go down in this pass, and how many were still in play.
  int tracked = 0;
  int64_t first_silent = INT64_MAX, last_silent = INT64_MIN;
  std::vector<const std::string*> going_down;
  for (const auto& [id, e] : nodes_) {
    if (e.state == NodeState::kDown) continue;
    ++tracked;
    if (StateFor(e, now_ms) == NodeState::kDown) {
      // When it fell silent: its last heartbeat, or the drop of its connection.
      const int64_t since = e.dropped_ms != 0 ? e.dropped_ms : e.last_seen_ms;
      going_down.push_back(&id);
      first_silent = std::min(first_silent, since);
      last_silent = std::max(last_silent, since);
    }
  }
  const int silent = static_cast<int>(going_down.size());
  if (hold_until_ms_ == 0 && silent >= 2 && 2 * silent > tracked &&
      last_silent - first_silent <= silence_window_ms_) {
    hold_until_ms_ = now_ms + down_ms_;
    report.started = true;
    report.silent = silent;
    report.tracked = tracked;
  }
  const bool holding = hold_until_ms_ != 0 && now_ms < hold_until_ms_;
  if (hold_until_ms_ != 0 && !holding) hold_until_ms_ = 0;  // the hold ended; judge normally
  report.hold_until_ms = hold_until_ms_;

  std::vector<Transition> out;
  for (auto& [id, e] : nodes_) {
    // Down stays down until the node is heard from (Touch, or a revival Fold takes from the
    // store): one that went down on a dropped connection would look alive again by its silence.
    if (e.state == NodeState::kDown) continue;
    NodeState next = StateFor(e, now_ms);
    if (holding && next == NodeState::kDown && e.state != NodeState::kDown) {
      next = NodeState::kSuspect;
      ++report.held;
    }
    if (next != e.state) {
      out.push_back({id, e.state, next, e.last_seen_ms, e.dropped_ms != 0});
      e.state = next;
      if (next == NodeState::kDown) e.dropped_ms = 0;
    }
  }
  if (mass_silence != nullptr) *mass_silence = report;
  return out;
}

int Liveness::ForgiveGap(int64_t gap_ms, int64_t now_ms) {
  if (gap_ms <= 0) return 0;
  std::lock_guard lock(mu_);
  int forgiven = 0;
  for (auto& [id, e] : nodes_) {
    if (e.state == NodeState::kDown) continue;
    e.last_seen_ms = std::min(e.last_seen_ms + gap_ms, now_ms);
    // A connection that dropped while this process was not running may be a client that gave
    // up waiting on it, not a dead agent: silence alone judges that node from here.
    e.dropped_ms = 0;
    ++forgiven;
  }
  return forgiven;
}

std::vector<std::pair<std::string, int64_t>> Liveness::TakeDirty() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, int64_t>> out(dirty_.begin(), dirty_.end());
  dirty_.clear();
  return out;
}

mesh::NodeRecord WithLiveness(const Liveness& liveness, mesh::NodeRecord n, int64_t now_ms) {
  if (auto live = liveness.Get(n.id)) {
    n.last_seen_ms = std::max(n.last_seen_ms, live->last_seen_ms);
    n.state = live->state;
  }
  if (n.maintenance && !mesh::InMaintenance(n, now_ms)) {
    n.maintenance = false;
    n.maintenance_until_ms = 0;
  }
  return n;
}

}  // namespace populi::dispatch
