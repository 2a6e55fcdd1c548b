// The model inventory of one node (docs/models.md): which models it holds on disk — the Hugging
// Face hub cache, GGUF files, safetensors models and LoRA adapters in configured directories —
// with a stable id, size, format, quantisation, shape and memory estimate each; the diff between
// two inventories; and the memory estimate itself.
//
// The builder reads only headers and small JSON files; a file's content hash (its identity) is
// computed once per (path, size, mtime) and remembered in memory and, with a cache_path, on disk.
// Nothing here fails as a whole: what cannot be read is listed in the inventory's problems.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mesh/models.h"
#include "util/clock.h"

namespace populi::models {

struct InventoryOptions {
  std::string node_id;
  // Searched for GGUF files, safetensors models and LoRA adapters, down to max_depth levels.
  std::vector<std::string> model_dirs;
  int max_depth = 8;
  // The hub cache to scan (".../huggingface/hub"); empty: none. HubCacheDir() is the usual one.
  std::string hf_hub_dir;
  // Where the file cache (content hashes, parsed headers) is kept across restarts, e.g.
  // "<data dir>/models/file-cache.json"; empty: in memory only.
  std::string cache_path;
  // Context length of each entry's memory estimate; 0: the model's own (its maximum).
  uint64_t estimate_context_length = 0;
};

// The hub cache the Hugging Face libraries use: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else $HOME/.cache/huggingface/hub ("" without HOME).
// `getenv` looks variables up (std::getenv by default; tests pass their own).
using EnvLookup = const char* (*)(const char*);
std::string HubCacheDir(EnvLookup getenv = nullptr);

class InventoryBuilder {
 public:
  explicit InventoryBuilder(InventoryOptions options, const Clock& clock = SystemClock::Instance());
  ~InventoryBuilder();
  InventoryBuilder(const InventoryBuilder&) = delete;
  InventoryBuilder& operator=(const InventoryBuilder&) = delete;

  // Scans every configured source now. Entries are sorted by id, one per id (the first path in
  // order wins when the same content is in two places); each carries a memory estimate.
  mesh::ModelInventory Build();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// What changed between two inventories of one node, by id (MESH-173: model.added /
// model.removed events). `changed`: present in both with any field different (a file rewritten
// in place keeps no id, so it is removed + added; a hub snapshot's new ref or an engine's
// `loaded` is a change). Each list sorted.
struct InventoryDiff {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
InventoryDiff DiffInventories(const mesh::ModelInventory& before,
                              const mesh::ModelInventory& after);

// The memory `e` needs at `context_length` tokens (0: the model's own context length; a longer
// request is capped at it): its weights (e.memory's weights_bytes, else size_bytes) plus an f16
// KV cache of block_count × context × head_count_kv × (key_length + value_length) × 2 bytes,
// where a missing key/value length is embedding_length / head_count and a missing head_count_kv
// is head_count. Without the shape (or a context length) the KV cache is absent and the total
// is the weights alone. Saturates at UINT64_MAX.
mesh::MemoryEstimate EstimateMemory(const mesh::ModelEntry& e, uint64_t context_length = 0);

}  // namespace populi::models
