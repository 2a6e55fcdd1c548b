#include "inference/engine_load.h"

namespace populi::inference {

bool SameEngineLoads(const std::vector<mesh::EngineLoad>& a,
                     const std::vector<mesh::EngineLoad>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].endpoint != b[i].endpoint || a[i].busy != b[i].busy || a[i].waiting != b[i].waiting ||
        a[i].slots != b[i].slots)
      return false;
  }
  return true;
}

EngineLoadWrites::Action EngineLoadWrites::Next(const std::string& node_id,
                                                const std::vector<mesh::EngineLoad>& loads,
                                                int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = written_.find(node_id);
  if (loads.empty()) {
    if (it == written_.end()) return Action::kNone;
    written_.erase(it);
    return Action::kDelete;
  }
  if (it != written_.end() && SameEngineLoads(it->second.loads, loads) &&
      now_ms - it->second.at_ms < kEngineLoadKeepaliveBeats * heartbeat_ms_) {
    return Action::kNone;
  }
  written_[node_id] = Written{loads, now_ms};
  return Action::kWrite;
}

void EngineLoadWrites::Failed(const std::string& node_id) {
  std::lock_guard lock(mu_);
  written_.erase(node_id);
}

mesh::NodeEngineLoad EngineLoadWrites::Row(const std::string& node_id,
                                           std::vector<mesh::EngineLoad> loads,
                                           int64_t now_ms) const {
  mesh::NodeEngineLoad row;
  row.node_id = node_id;
  row.engines = std::move(loads);
  row.received_ms = now_ms;
  row.fresh_until_ms = now_ms + kEngineLoadFreshBeats * heartbeat_ms_;
  return row;
}

}  // namespace populi::inference
