#include "inference/targets.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "models/inventory.h"

namespace populi::inference {
namespace {

// A node's engines as its inventory lists them (each endpoint once, in entry order).
std::vector<std::string> EnginesOf(const mesh::ModelInventory& inv) {
  std::vector<std::string> out;
  for (const auto& e : inv.entries) {
    if (e.source != mesh::ModelSource::kEngine || e.endpoint.empty()) continue;
    if (std::find(out.begin(), out.end(), e.endpoint) == out.end()) out.push_back(e.endpoint);
  }
  return out;
}

bool Fits(const mesh::ModelEntry& e, const mesh::NodeRecord& node) {
  const uint64_t need = models::EstimateMemory(e).total_bytes;
  return need == 0 || need <= FreeMemoryOf(node);
}

// The name a client asks for an entry by.
const std::string& ClientName(const mesh::ModelEntry& e) {
  return e.name.empty() ? e.id : e.name;
}

}  // namespace

uint64_t FreeMemoryOf(const mesh::NodeRecord& node) {
  if (node.gpus.empty()) return node.cpu.memory_available_bytes;
  uint64_t free = 0;
  for (const auto& g : node.gpus) free += g.memory_free_bytes;
  return free;
}

std::optional<mesh::EngineLoad> FreshEngineLoad(const models::NodeInventory& n,
                                                std::string_view endpoint, int64_t now_ms) {
  if (!n.engine_load || now_ms >= n.engine_load->fresh_until_ms) return std::nullopt;
  for (const auto& e : n.engine_load->engines)
    if (e.endpoint == endpoint) return e;
  return std::nullopt;
}

bool NodeServes(const models::NodeInventory& n, int64_t now_ms) {
  return n.node.state == mesh::NodeState::kAlive && !n.node.quarantined && !n.node.maintenance &&
         !models::InventoryGone(n, now_ms) &&
         models::InventoryFreshnessOf(n, now_ms) == mesh::InventoryFreshness::kFresh;
}

ModelIndex::ModelIndex(std::vector<models::NodeInventory> nodes) : nodes_(std::move(nodes)) {
  engines_.reserve(nodes_.size());
  for (uint32_t n = 0; n < nodes_.size(); ++n) {
    const mesh::ModelInventory& inv = nodes_[n].stored.inventory;
    engines_.push_back(EnginesOf(inv));
    for (uint32_t i = 0; i < inv.entries.size(); ++i) {
      const mesh::ModelEntry& e = inv.entries[i];
      holders_[e.id].emplace_back(n, i);
      if (!e.name.empty() && e.name != e.id) holders_[e.name].emplace_back(n, i);
    }
  }
}

std::vector<Target> ModelIndex::TargetsFor(std::string_view model, int64_t now_ms) const {
  std::vector<Target> out;
  auto it = holders_.find(std::string(model));
  if (it == holders_.end()) return out;
  std::optional<Target> best;
  uint32_t best_node = 0;
  auto flush = [&] {
    if (best) {
      best->candidate.engine = FreshEngineLoad(nodes_[best_node], best->endpoint, now_ms);
      out.push_back(std::move(*best));
    }
    best.reset();
  };
  for (const auto& [n, i] : it->second) {
    if (best && n != best_node) flush();
    const models::NodeInventory& node = nodes_[n];
    // Nothing on a node without an engine can run a model.
    if (engines_[n].empty() || !NodeServes(node, now_ms)) continue;
    const mesh::ModelEntry& e = node.stored.inventory.entries[i];
    Target t;
    t.candidate.node_id = node.node.id;
    if (e.source == mesh::ModelSource::kEngine) {
      t.candidate.loaded = e.loaded.value_or(true);
      t.endpoint = e.endpoint;
    } else if (e.source == mesh::ModelSource::kLora || !Fits(e, node.node)) {
      continue;
    } else {
      t.endpoint = engines_[n].front();
    }
    if (!best || (t.candidate.loaded && !best->candidate.loaded)) {
      best = std::move(t);
      best_node = n;
    }
  }
  flush();
  return out;
}

std::vector<Target> TargetsFor(const std::vector<models::NodeInventory>& nodes,
                               std::string_view model, int64_t now_ms) {
  return ModelIndex(nodes).TargetsFor(model, now_ms);
}

std::vector<mesh::OpenAiModel> ServedModels(const std::vector<models::NodeInventory>& nodes,
                                            int64_t now_ms) {
  std::map<std::string, mesh::OpenAiModel> by_name;
  std::map<std::string, std::string> last_node;  // name → the last node counted for it
  for (const auto& n : nodes) {
    if (!NodeServes(n, now_ms)) continue;
    const mesh::ModelInventory& inv = n.stored.inventory;
    if (EnginesOf(inv).empty()) continue;
    for (const auto& e : inv.entries) {
      const bool servable = e.source == mesh::ModelSource::kEngine ||
                            (e.source != mesh::ModelSource::kLora && Fits(e, n.node));
      if (!servable) continue;
      const std::string& name = ClientName(e);
      mesh::OpenAiModel& m = by_name[name];
      if (m.id.empty()) {
        m.id = name;
        m.owned_by = "populi";
        m.created = n.stored.updated_ms / 1000;
      }
      if (last_node[name] != n.node.id) {
        ++m.nodes;
        last_node[name] = n.node.id;
      }
    }
  }
  std::vector<mesh::OpenAiModel> out;
  out.reserve(by_name.size());
  for (auto& [name, m] : by_name) out.push_back(std::move(m));
  return out;
}

}  // namespace populi::inference
