// safetensors files: an 8-byte little-endian header length N, N bytes of JSON naming each
// tensor's dtype, shape and data_offsets, then the data. ParseSafetensors reads the header only;
// ReadSafetensorsIndex reads a sharded model's model.safetensors.index.json.
//
// Robustness: N is checked against the file and kSafetensorsMaxHeaderBytes (the format's own
// 100 MB limit) before anything is allocated; the JSON is read with the mesh reader (depth and
// UTF-8 checked); every tensor's offsets must lie inside the data and, for dtypes of known width,
// span exactly its shape. Anything else is kInvalidArgument naming the tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/scan/byte_reader.h"
#include "util/status.h"

namespace populi::models::scan {

inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
inline constexpr uint64_t kSafetensorsMaxIndexBytes = 64ull << 20;

struct SafetensorsHeader {
  uint64_t tensor_count = 0;
  uint64_t parameter_count = 0;
  std::vector<std::string> dtypes;  // largest share of parameters first
};

Result<SafetensorsHeader> ParseSafetensors(ByteReader& in);

// The shard file names an index's weight_map names, each once, sorted. A name that is not a
// plain file name in the index's directory ("../x", "a/b", "") is refused.
Result<std::vector<std::string>> ReadSafetensorsIndex(const std::string& index_path);

}  // namespace populi::models::scan
