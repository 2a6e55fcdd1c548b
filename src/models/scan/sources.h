// The scanners: each turns what it finds into inventory entries in a ScanContext (identity,
// size, format, what the headers and JSON files beside them say). Memory estimates are filled
// in afterwards from each entry's weights (memory.weights_bytes) and shape.
#pragma once

#include <string>

#include "models/scan/context.h"
#include "models/scan/walk.h"

namespace populi::models::scan {

// One configured directory: every GGUF file, safetensors model and LoRA adapter below it.
void ScanModelDir(const std::string& root, int max_depth, ScanContext& ctx);

// A GGUF file: id = "sha256:<hex of the file>"; name = general.name, else the file name.
void AddGgufFile(const std::string& path, ScanContext& ctx);

// Safetensors models among `files`: one per index (its shards, each counted once) and one per
// file no index names. A model is its directory (config.json read) when it is an index or a file
// named model.safetensors, else the file alone.
void AddSafetensorsModels(const ModelDirFiles& files, ScanContext& ctx);

// A PEFT adapter directory (adapter_config.json and its adapter_model.* weights), MESH-174.
void AddLoraAdapter(const std::string& dir, ScanContext& ctx);

// The Hugging Face hub cache at `hub_dir` (".../huggingface/hub"): one entry per snapshot of
// each models--org--name repository, id "org/name@<revision>" (MESH-077). A missing hub_dir is
// an empty cache, not a problem.
void ScanHfCache(const std::string& hub_dir, ScanContext& ctx);

// Reads `dir`/config.json into `e` when the file is there; a malformed one is a problem.
void ApplyConfigJsonIn(const std::string& dir, std::string_view source, mesh::ModelEntry& e,
                       ScanContext& ctx);

// `e`'s weights for the memory estimate (its MemoryEstimate with only weights_bytes set).
void SetWeightsBytes(uint64_t bytes, mesh::ModelEntry& e);

}  // namespace populi::models::scan
