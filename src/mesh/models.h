// The model inventory on the wire (docs/models.md): what one node holds on disk or in its
// engines. Pure data; the codecs are in mesh/models_json.h, the scanners that fill it in models/.
//
// Conventions: a field the scanner could not learn stays absent (empty string, empty list,
// nullopt), never a guessed zero. Sizes are bytes; times Unix milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace populi::mesh {

// Version of the ModelInventory document (MESH-168). Fields are added without a bump (readers
// ignore unknown fields); a bump means an existing field changed meaning, and a reader refuses a
// version newer than the one it knows.
inline constexpr int kModelInventorySchemaVersion = 1;

// Where an entry was found.
//   hf_cache     a snapshot in the Hugging Face hub cache
//   gguf         a GGUF file in a configured directory
//   safetensors  a safetensors model (one file, or the shards of an index) in a directory
//   lora         a LoRA adapter (adapter_config.json, or a GGUF of general.type "adapter")
//   engine       listed by a local inference engine's endpoint
enum class ModelSource { kHfCache, kGguf, kSafetensors, kLora, kEngine };
std::string_view ToString(ModelSource v);
Result<ModelSource> ParseModelSource(std::string_view s);

// What a LoRA adapter adapts (MESH-174): an entry for an adapter names its base model.
struct LoraInfo {
  std::string base_model;  // base_model_name_or_path, as the adapter states it
  std::optional<uint32_t> rank;
  std::optional<double> alpha;
  // Module names, or one pattern when the adapter gives a string ("all-linear").
  std::vector<std::string> target_modules;

  bool operator==(const LoraInfo&) const = default;
};

// Memory a model needs to run at `context_length` tokens (docs/models.md gives the formula):
// its weights plus an f16 KV cache; kv_cache_bytes is absent when the model's shape is unknown.
struct MemoryEstimate {
  uint64_t context_length = 0;  // 0: no context length known (weights only)
  uint64_t weights_bytes = 0;
  std::optional<uint64_t> kv_cache_bytes;
  uint64_t total_bytes = 0;  // weights_bytes + kv_cache_bytes

  bool operator==(const MemoryEstimate&) const = default;
};

struct ModelEntry {
  // Stable within and across nodes: "org/name@<revision>" for a hub snapshot, "sha256:<hex>" of
  // the content for files (docs/models.md, Identity). Unique within one inventory.
  std::string id;
  std::string name;  // human name: hub repo, general.name, or the file / directory name
  ModelSource source = ModelSource::kGguf;
  std::string path;               // file or directory on the node; empty for an engine's model
  std::string endpoint;           // the engine's base URL, for source engine
  std::string format;             // gguf | safetensors | pytorch | unknown
  std::string quantization;       // "Q4_K_M", "BF16", "F16,F32" (safetensors dtypes), "awq"
  uint64_t size_bytes = 0;        // on disk (each file once)
  std::string revision;           // hub commit
  std::vector<std::string> refs;  // hub refs naming this revision ("main")
  std::optional<uint64_t> parameter_count;
  std::optional<uint64_t> tensor_count;
  std::optional<uint64_t> context_length;  // trained / maximum context, in tokens
  std::string architecture;                // "llama", "qwen2"
  // The attention shape the KV-cache estimate is computed from.
  std::optional<uint32_t> block_count;
  std::optional<uint32_t> embedding_length;
  std::optional<uint32_t> head_count;
  std::optional<uint32_t> head_count_kv;
  std::optional<uint32_t> key_length;    // per head; absent: embedding_length / head_count
  std::optional<uint32_t> value_length;  // per head; absent: embedding_length / head_count
  std::optional<LoraInfo> lora;
  std::optional<bool> loaded;  // engine-listed models: whether the engine has it in memory
  std::optional<MemoryEstimate> memory;

  bool operator==(const ModelEntry&) const = default;
};

// A source or file the scan could not read; the rest of the inventory is still reported.
struct ModelScanProblem {
  std::string source;  // hf_cache | model_dir | gguf | safetensors | lora | cache
  std::string path;
  std::string message;

  bool operator==(const ModelScanProblem&) const = default;
};

struct ModelInventory {
  int schema_version = kModelInventorySchemaVersion;
  std::string node_id;
  int64_t generated_ms = 0;
  std::vector<ModelEntry> entries;  // sorted by id
  std::vector<ModelScanProblem> problems;

  bool operator==(const ModelInventory&) const = default;
};

}  // namespace populi::mesh
