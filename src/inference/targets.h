// Which nodes can serve a model, read from the mesh-wide inventories (docs/inference.md,
// "Routing"): the candidates the router chooses among, and the model list of GET /v1/models.
// Pure functions over models::NodeInventory.
#pragma once

#include <cstdint>
#include <string_view>
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

// One target per node that can serve `model` (an entry's name or id): a model its engine lists
// (loaded: `loaded` unless the engine said false), else a file it holds on disk when the node
// has an engine endpoint and the model's memory estimate (models::EstimateMemory) fits
// FreeMemoryOf(node). The endpoint is the engine's that listed the model, else the node's first.
std::vector<Target> TargetsFor(const std::vector<models::NodeInventory>& nodes,
                               std::string_view model, int64_t now_ms);

// Every model some node can serve, by the name clients send (an entry's name, else its id),
// with the number of such nodes; sorted by id.
std::vector<mesh::OpenAiModel> ServedModels(const std::vector<models::NodeInventory>& nodes,
                                            int64_t now_ms);

}  // namespace populi::inference
