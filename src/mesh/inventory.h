// The mesh-wide model inventory on the wire (docs/models.md, "Reporting"): the report an agent
// sends each poll (the whole inventory, or what changed since the generation the control plane
// acknowledged), what the control plane keeps of each node, the mesh-wide listing of
// GET /v1/populi/models, and the model lists of local inference engines (OpenAI-compatible
// GET /v1/models, Ollama's GET /api/ps). Pure data; the codecs are in mesh/inventory_json.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/models.h"
#include "mesh/types.h"
#include "util/status.h"

namespace populi::mesh {

// PUT /v1/populi/models/{node_id}, sent by the node's agent on every poll.
struct InventoryReport {
  int schema_version = kModelInventorySchemaVersion;
  std::string node_id;
  // 0: `entries` is the node's whole inventory (its first report, and every report after the
  // control plane said it lost track). Otherwise the generation the control plane acknowledged
  // last: `entries` are the entries added or changed since, `removed` the ids gone.
  int64_t base_generation = 0;
  // With a base generation: nothing changed since it; the report only says the inventory is
  // still current (no entries, removed ids or problems are read).
  bool refresh = false;
  int64_t poll_ms = 0;       // the node's poll interval; staleness is counted in these
  int64_t generated_ms = 0;  // when the scan finished (the node's clock)
  std::vector<ModelEntry> entries;
  std::vector<std::string> removed;
  std::vector<ModelScanProblem> problems;  // always the whole list (not a diff)

  bool whole() const { return base_generation == 0; }
  bool operator==(const InventoryReport&) const = default;
};

struct InventoryReportReply {
  std::string node_id;
  // What the control plane now holds of the node: the base of the node's next report.
  int64_t generation = 0;
  int64_t server_time_ms = 0;
  // What this report changed (a refresh changes nothing).
  int64_t added = 0;
  int64_t removed = 0;
  int64_t changed = 0;

  bool operator==(const InventoryReportReply&) const = default;
};

// What the control plane keeps of a node's inventory (store kv "models" / node id), as of
// `generation`.
struct StoredInventory {
  int64_t generation = 0;
  int64_t poll_ms = 0;
  int64_t updated_ms = 0;  // control-plane clock: when this content arrived
  ModelInventory inventory;

  bool operator==(const StoredInventory&) const = default;
};

// The small record written on every accepted report, a refresh included (store kv
// "models.refresh" / node id), so a refresh never rewrites the inventory itself.
struct InventoryRefresh {
  int64_t generation = 0;
  int64_t poll_ms = 0;
  int64_t refreshed_ms = 0;  // control-plane clock

  bool operator==(const InventoryRefresh&) const = default;
};

// How current a node's copy of a model is in the mesh-wide listing. fresh: the node is alive
// and refreshed its inventory within kStaleAfterPolls of its poll intervals; stale otherwise.
enum class InventoryFreshness { kFresh, kStale };
std::string_view ToString(InventoryFreshness v);
Result<InventoryFreshness> ParseInventoryFreshness(std::string_view s);

// Polls without a refresh after which a live node's inventory is stale.
inline constexpr int kStaleAfterPolls = 3;
// Poll intervals of silence after which a node that is not alive drops out of the listing.
inline constexpr int kGoneAfterPolls = 2;

// One node's copy of a model.
struct ModelHolder {
  std::string node_id;
  InventoryFreshness state = InventoryFreshness::kFresh;
  NodeState node_state = NodeState::kAlive;
  ModelSource source = ModelSource::kGguf;
  std::string path;
  std::string endpoint;
  std::optional<bool> loaded;  // engines: in memory or not; absent for files
  std::vector<std::string> refs;
  int64_t refreshed_ms = 0;

  bool operator==(const ModelHolder&) const = default;
};

// A model and the nodes that hold it. `model` is the first holder's entry (by node id) without
// what is each holder's own (path, endpoint, loaded, refs).
struct MeshModel {
  ModelEntry model;
  std::vector<ModelHolder> nodes;  // sorted by node id, then path / endpoint

  bool operator==(const MeshModel&) const = default;
};

// A node's inventory as the control plane holds it.
struct NodeInventoryStatus {
  std::string node_id;
  InventoryFreshness state = InventoryFreshness::kFresh;
  NodeState node_state = NodeState::kAlive;
  int64_t generation = 0;
  int64_t poll_ms = 0;
  int64_t refreshed_ms = 0;
  int64_t updated_ms = 0;
  int64_t models = 0;
  std::vector<ModelScanProblem> problems;

  bool operator==(const NodeInventoryStatus&) const = default;
};

// GET /v1/populi/models.
struct MeshModelList {
  int64_t server_time_ms = 0;
  std::vector<MeshModel> models;           // sorted by id
  std::vector<NodeInventoryStatus> nodes;  // sorted by node id

  bool operator==(const MeshModelList&) const = default;
};

// One model an OpenAI-compatible engine lists (GET /v1/models: {"data":[{"id",…}]}), with what
// the common servers add: vLLM `max_model_len` and `parent` (a LoRA adapter's base model),
// llama.cpp's server `meta` (`n_ctx_train`, `n_params`, `size`).
struct EngineModel {
  std::string id;
  std::string owned_by;
  std::string parent;
  std::optional<uint64_t> max_model_len;
  std::optional<uint64_t> n_ctx_train;
  std::optional<uint64_t> n_params;
  std::optional<uint64_t> size;

  bool operator==(const EngineModel&) const = default;
};

// One model Ollama holds in memory (GET /api/ps: {"models":[{"name","model",…}]}).
struct OllamaLoadedModel {
  std::string name;
  std::string model;
  std::optional<uint64_t> context_length;
  std::string format;        // details.format
  std::string quantization;  // details.quantization_level

  bool operator==(const OllamaLoadedModel&) const = default;
};

}  // namespace populi::mesh
