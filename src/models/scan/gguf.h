// The GGUF header (versions 2 and 3, little-endian): magic "GGUF", version, tensor count,
// metadata key/value count, the key/values, then one info record per tensor. ParseGguf reads
// what the inventory needs and skips the rest (tokenizer arrays included) without building it.
//
// Robustness contract: every count and length is checked against the bytes that remain before it
// is used, and against fixed caps (kGgufMax*), so a truncated or hostile file costs at most one
// pass over its header and a few KiB of memory; it ends in kInvalidArgument naming the byte
// offset, never in a crash or a large allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "models/scan/byte_reader.h"
#include "util/status.h"

namespace populi::models::scan {

inline constexpr uint64_t kGgufMaxKeyBytes = 65535;        // the format's own limit on keys
inline constexpr uint64_t kGgufMaxKeptStringBytes = 4096;  // strings the inventory keeps
inline constexpr uint64_t kGgufMaxKv = 1u << 20;
inline constexpr uint64_t kGgufMaxTensors = 1u << 20;
inline constexpr uint64_t kGgufMaxArrayElements = 1u << 26;
inline constexpr uint32_t kGgufMaxArrayNesting = 4;
inline constexpr uint32_t kGgufMaxDims = 4;  // GGML's own limit

struct GgufInfo {
  uint32_t version = 0;
  uint64_t tensor_count = 0;
  uint64_t kv_count = 0;
  std::string architecture;           // general.architecture
  std::string name;                   // general.name
  std::string type;                   // general.type: "model", "adapter" (absent in older files)
  std::optional<uint32_t> file_type;  // general.file_type (llama_ftype)
  // "<architecture>.<key>" values (integers; an array gives its largest element).
  std::optional<uint64_t> context_length;
  std::optional<uint64_t> block_count;
  std::optional<uint64_t> embedding_length;
  std::optional<uint64_t> head_count;
  std::optional<uint64_t> head_count_kv;
  std::optional<uint64_t> key_length;
  std::optional<uint64_t> value_length;
  std::optional<double> lora_alpha;  // adapter.lora.alpha
  uint64_t parameter_count = 0;      // sum over tensors of their element counts
};

Result<GgufInfo> ParseGguf(ByteReader& in);

// The quantisation name of a general.file_type ("Q4_K_M", "F16"); "file_type_<n>" for a value
// this table does not know.
std::string GgufFileTypeName(uint32_t file_type);

}  // namespace populi::models::scan
