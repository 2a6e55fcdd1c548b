// Which nodes can serve a model, read from the mesh-wide inventories (docs/inference.md,
// "Routing"): the candidates the router chooses among, and the model list of GET /v1/models.
// Pure functions over models::NodeInventory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "inference/front_door.h"
#include "mesh/inference.h"
#include "models/report.h"

namespace populi::inference {

// The memory a node offers a model it would load: the free memory of its GPUs together, or,
// without a GPU, the available RAM (a CPU engine).
uint64_t FreeMemoryOf(const mesh::NodeRecord& node);

// Whether a node can serve models at all: it is alive (not suspect, down or gone), not
// quarantined nor in maintenance, and its inventory is fresh.
bool NodeServes(const models::NodeInventory& n, int64_t now_ms);

// The load `n`'s engine at `endpoint` reported of itself, when the report is fresh at `now_ms`
// (before its fresh_until_ms); nullopt otherwise: the router then counts only its own requests.
std::optional<mesh::EngineLoad> FreshEngineLoad(const models::NodeInventory& n,
                                                std::string_view endpoint, int64_t now_ms);

// One target per node that can serve `model` (an entry's name or id): a model its engine lists
// (loaded: `loaded` unless the engine said false), else a file it holds on disk when the node
// has an engine endpoint and the model's memory estimate (models::EstimateMemory) fits
// FreeMemoryOf(node). The endpoint is the engine's that listed the model, else the node's first;
// the candidate carries that engine's fresh load report (FreshEngineLoad).
std::vector<Target> TargetsFor(const std::vector<models::NodeInventory>& nodes,
                               std::string_view model, int64_t now_ms);

// The inventories indexed by model name and id, built once per read of the store, so a request's
// candidates cost a lookup and its holders, not a pass over every node's every entry.
class ModelIndex {
 public:
  explicit ModelIndex(std::vector<models::NodeInventory> nodes);
  // As TargetsFor below.
  std::vector<Target> TargetsFor(std::string_view model, int64_t now_ms) const;
  const std::vector<models::NodeInventory>& nodes() const { return nodes_; }

 private:
  std::vector<models::NodeInventory> nodes_;
  std::vector<std::vector<std::string>> engines_;  // per node: its engine endpoints
  // name or id → (node index, entry index), in node order then entry order.
  std::unordered_map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> holders_;
};

// Every model some node can serve, by the name clients send (an entry's name, else its id),
// with the number of such nodes; sorted by id.
std::vector<mesh::OpenAiModel> ServedModels(const std::vector<models::NodeInventory>& nodes,
                                            int64_t now_ms);

}  // namespace populi::inference
