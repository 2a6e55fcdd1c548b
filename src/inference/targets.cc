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

bool NodeServes(const models::NodeInventory& n, int64_t now_ms) {
  return n.node.state == mesh::NodeState::kAlive && !n.node.quarantined && !n.node.maintenance &&
         !models::InventoryGone(n, now_ms) &&
         models::InventoryFreshnessOf(n, now_ms) == mesh::InventoryFreshness::kFresh;
}

std::vector<Target> TargetsFor(const std::vector<models::NodeInventory>& nodes,
                               std::string_view model, int64_t now_ms) {
  std::vector<Target> out;
  for (const auto& n : nodes) {
    if (!NodeServes(n, now_ms)) continue;
    const mesh::ModelInventory& inv = n.stored.inventory;
    const std::vector<std::string> engines = EnginesOf(inv);
    if (engines.empty()) continue;  // nothing on this node can run a model
    std::optional<Target> best;
    for (const auto& e : inv.entries) {
      if (e.name != model && e.id != model) continue;
      Target t;
      t.candidate.node_id = n.node.id;
      if (e.source == mesh::ModelSource::kEngine) {
        t.candidate.loaded = e.loaded.value_or(true);
        t.endpoint = e.endpoint;
      } else if (e.source == mesh::ModelSource::kLora || !Fits(e, n.node)) {
        continue;
      } else {
        t.endpoint = engines.front();
      }
      if (!best || (t.candidate.loaded && !best->candidate.loaded)) best = std::move(t);
    }
    if (best) out.push_back(std::move(*best));
  }
  return out;
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
