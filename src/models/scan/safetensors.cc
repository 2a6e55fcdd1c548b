#include "models/scan/safetensors.h"

#include <algorithm>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "mesh/json.h"
#include "mesh/json_reader.h"
#include "models/scan/files.h"

namespace populi::models::scan {
namespace {

namespace json = boost::json;

constexpr std::string_view kSafetensorsHint =
    "the file is not a readable safetensors model; re-download it";

// Bytes per element of the dtypes whose width is fixed; 0 for the rest (checked no further).
uint64_t DtypeBytes(std::string_view dtype) {
  static const std::map<std::string_view, uint64_t> kWidths = {
      {"F64", 8}, {"I64", 8}, {"U64", 8},  {"F32", 4},     {"I32", 4},
      {"U32", 4}, {"F16", 2}, {"BF16", 2}, {"I16", 2},     {"U16", 2},
      {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = kWidths.find(dtype);
  return it == kWidths.end() ? 0 : it->second;
}

Result<uint64_t> NonNegative(const json::value& e, const std::string& path) {
  if (e.is_uint64()) return e.get_uint64();
  if (e.is_int64() && e.get_int64() >= 0) return static_cast<uint64_t>(e.get_int64());
  return InvalidArgument(path + ": expected a non-negative integer", std::string(kSafetensorsHint));
}

struct TensorFacts {
  std::string dtype;
  uint64_t elements = 0;
};

Result<TensorFacts> ReadTensor(const json::value& v, const std::string& name, uint64_t data_bytes) {
  mesh::FieldReader r(v, name, mesh::ReadOptions{std::string(kSafetensorsHint)});
  TensorFacts t;
  std::vector<uint64_t> shape, offsets;
  r.Str("dtype", t.dtype, true);
  if (r.ok() && !r.Has("shape")) r.Fail("shape", "required field is missing");
  r.List("shape", shape, NonNegative);
  r.List("data_offsets", offsets, NonNegative, true);
  if (!r.ok()) return r.status();
  if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_bytes)
    return InvalidArgument(name + ".data_offsets: outside the file's data",
                           std::string(kSafetensorsHint));
  t.elements = 1;
  for (uint64_t extent : shape) {
    if (__builtin_mul_overflow(t.elements, extent, &t.elements))
      return InvalidArgument(name + ".shape: element count overflows",
                             std::string(kSafetensorsHint));
  }
  const uint64_t width = DtypeBytes(t.dtype);
  uint64_t bytes = 0;
  if (width != 0 &&
      (__builtin_mul_overflow(t.elements, width, &bytes) || bytes != offsets[1] - offsets[0]))
    return InvalidArgument(name + ": its shape does not match its data_offsets",
                           std::string(kSafetensorsHint));
  return t;
}

}  // namespace

Result<SafetensorsHeader> ParseSafetensors(ByteReader& in) {
  uint64_t n = 0;
  if (!in.ReadLe(n))
    return InvalidArgument("safetensors: truncated in the header length",
                           std::string(kSafetensorsHint));
  if (n > kSafetensorsMaxHeaderBytes || n > in.remaining())
    return InvalidArgument(
        "safetensors: header of " + std::to_string(n) + " bytes does not fit the file",
        std::string(kSafetensorsHint));
  const uint64_t data_bytes = in.remaining() - n;
  std::string text;
  if (!in.ReadString(n, text))
    return InvalidArgument("safetensors: truncated in the header", std::string(kSafetensorsHint));
  auto doc = mesh::ParseJson(text, 8);
  if (!doc.ok() || !doc->is_object())
    return InvalidArgument("safetensors: the header is not a JSON object",
                           std::string(kSafetensorsHint));
  SafetensorsHeader h;
  std::map<std::string, uint64_t> by_dtype;
  for (const auto& kv : doc->get_object()) {
    if (kv.key() == "__metadata__") continue;
    POPULI_ASSIGN_OR_RETURN(TensorFacts t, ReadTensor(kv.value(), kv.key(), data_bytes));
    ++h.tensor_count;
    if (__builtin_add_overflow(h.parameter_count, t.elements, &h.parameter_count))
      return InvalidArgument("safetensors: parameter count overflows",
                             std::string(kSafetensorsHint));
    by_dtype[t.dtype] += t.elements;
  }
  std::vector<std::pair<std::string, uint64_t>> shares(by_dtype.begin(), by_dtype.end());
  std::stable_sort(shares.begin(), shares.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (auto& [dtype, count] : shares) h.dtypes.push_back(dtype);
  return h;
}

Result<std::vector<std::string>> ReadSafetensorsIndex(const std::string& index_path) {
  POPULI_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(index_path, kSafetensorsMaxIndexBytes));
  auto doc = mesh::ParseJson(text);
  if (!doc.ok()) return doc.status().WithContext(index_path);
  const mesh::ReadOptions options{std::string(kSafetensorsHint)};
  mesh::FieldReader r(*doc, "", options);
  std::map<std::string, std::string> weight_map;
  if (r.ok() && !r.Has("weight_map")) r.Fail("weight_map", "required field is missing");
  r.StrMap("weight_map", weight_map);
  if (!r.ok()) return r.status().WithContext(index_path);
  std::set<std::string> files;
  for (const auto& [tensor, file] : weight_map) {
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
        file.find('\0') != std::string::npos)
      return InvalidArgument(index_path + ": weight_map." + tensor + " is not a file name",
                             "an index names shard files in its own directory");
    files.insert(file);
  }
  return std::vector<std::string>(files.begin(), files.end());
}

}  // namespace populi::models::scan
