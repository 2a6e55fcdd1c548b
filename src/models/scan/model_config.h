// The JSON files beside a model's weights: a transformers config.json (architecture, context
// length, attention shape, quantisation method) and a PEFT adapter_config.json (what a LoRA
// adapter adapts, MESH-174). Both are read with the mesh FieldReader: a field this code reads
// that has the wrong type fails the file (kInvalidArgument naming the field); fields it does not
// read are ignored.
#pragma once

#include <string>

#include "mesh/models.h"
#include "util/status.h"

namespace populi::models::scan {

inline constexpr uint64_t kMaxModelJsonBytes = 4ull << 20;

// Fills architecture (model_type), context_length (max_position_embeddings), block_count
// (num_hidden_layers), embedding_length (hidden_size), head_count (num_attention_heads),
// head_count_kv (num_key_value_heads, else head_count), key_length / value_length (head_dim)
// and quantization (quantization_config.quant_method) from config.json text, reading the shape
// from text_config when the top level has none (multimodal models). Fields `e` already has are
// overwritten only by values present in the file.
Status ApplyModelConfig(const std::string& text, mesh::ModelEntry& e);

// adapter_config.json text → base_model_name_or_path, r, lora_alpha, target_modules (a list, or
// one string such as "all-linear").
Result<mesh::LoraInfo> ReadAdapterConfig(const std::string& text);

}  // namespace populi::models::scan
