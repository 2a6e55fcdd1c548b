#include "mesh/models_json.h"

#include <array>
#include <limits>
#include <set>
#include <utility>

#include "mesh/json_internal.h"
#include "mesh/validate.h"

namespace populi::mesh {

using namespace json_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr std::string_view kInventoryHint = "see docs/models.md for the inventory's fields";

constexpr std::array<std::pair<ModelSource, std::string_view>, 5> kModelSources{{
    {ModelSource::kHfCache, "hf_cache"},
    {ModelSource::kGguf, "gguf"},
    {ModelSource::kSafetensors, "safetensors"},
    {ModelSource::kLora, "lora"},
    {ModelSource::kEngine, "engine"},
}};

json::array StringArray(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

template <typename T>
void PutOptional(json::object& o, std::string_view key, const std::optional<T>& v) {
  if (v) o[key] = *v;
}

// An optional field: absent (or null) stays nullopt; present must read as T.
template <typename T>
void ReadOptional(Reader& r, std::string_view key, std::optional<T>& out) {
  if (!r.Has(key)) return;
  T n{};
  if constexpr (std::is_same_v<T, uint64_t>) {
    r.U64(key, n);
  } else if constexpr (std::is_same_v<T, double>) {
    r.Double(key, n);
  } else if constexpr (std::is_same_v<T, bool>) {
    r.Bool(key, n);
  } else {
    r.Num(key, n);
  }
  if (r.ok()) out = n;
}

json::object LoraToJson(const LoraInfo& l) {
  json::object o;
  PutStr(o, "base_model", l.base_model);
  PutOptional(o, "rank", l.rank);
  PutOptional(o, "alpha", l.alpha);
  if (!l.target_modules.empty()) o["target_modules"] = StringArray(l.target_modules);
  return o;
}

Result<LoraInfo> LoraFromJson(const json::value& v, std::string path, const ReadOptions& opts) {
  Reader r(v, std::move(path), opts);
  LoraInfo l;
  r.Str("base_model", l.base_model);
  ReadOptional(r, "rank", l.rank);
  ReadOptional(r, "alpha", l.alpha);
  r.Strings("target_modules", l.target_modules);
  if (!r.Finish().ok()) return r.status();
  return l;
}

json::object MemoryToJson(const MemoryEstimate& m) {
  json::object o;
  o["context_length"] = m.context_length;
  o["weights_bytes"] = m.weights_bytes;
  PutOptional(o, "kv_cache_bytes", m.kv_cache_bytes);
  o["total_bytes"] = m.total_bytes;
  return o;
}

Result<MemoryEstimate> MemoryFromJson(const json::value& v, std::string path,
                                      const ReadOptions& opts) {
  Reader r(v, std::move(path), opts);
  MemoryEstimate m;
  r.U64("context_length", m.context_length);
  r.U64("weights_bytes", m.weights_bytes);
  ReadOptional(r, "kv_cache_bytes", m.kv_cache_bytes);
  r.U64("total_bytes", m.total_bytes);
  if (!r.Finish().ok()) return r.status();
  return m;
}

}  // namespace

std::string_view ToString(ModelSource v) {
  for (const auto& [e, name] : kModelSources)
    if (e == v) return name;
  return "unknown";
}

Result<ModelSource> ParseModelSource(std::string_view s) {
  for (const auto& [e, name] : kModelSources)
    if (name == s) return e;
  return InvalidArgument("unknown model source \"" + std::string(s) + "\"",
                         "one of hf_cache, gguf, safetensors, lora, engine");
}

json::object ToJson(const ModelEntry& e) {
  json::object o;
  o["id"] = e.id;
  PutStr(o, "name", e.name);
  o["source"] = ToString(e.source);
  PutStr(o, "path", e.path);
  PutStr(o, "endpoint", e.endpoint);
  PutStr(o, "format", e.format);
  PutStr(o, "quantization", e.quantization);
  o["size_bytes"] = e.size_bytes;
  PutStr(o, "revision", e.revision);
  if (!e.refs.empty()) o["refs"] = StringArray(e.refs);
  PutOptional(o, "parameter_count", e.parameter_count);
  PutOptional(o, "tensor_count", e.tensor_count);
  PutOptional(o, "context_length", e.context_length);
  PutStr(o, "architecture", e.architecture);
  PutOptional(o, "block_count", e.block_count);
  PutOptional(o, "embedding_length", e.embedding_length);
  PutOptional(o, "head_count", e.head_count);
  PutOptional(o, "head_count_kv", e.head_count_kv);
  PutOptional(o, "key_length", e.key_length);
  PutOptional(o, "value_length", e.value_length);
  if (e.lora) o["lora"] = LoraToJson(*e.lora);
  PutOptional(o, "loaded", e.loaded);
  if (e.memory) o["memory"] = MemoryToJson(*e.memory);
  return o;
}

Result<ModelEntry> ModelEntryFromJson(const json::value& v, std::string path,
                                      const ReadOptions& options) {
  Reader r(v, std::move(path), options);
  ModelEntry e;
  r.Str("id", e.id, true);
  r.Str("name", e.name);
  r.Enum("source", e.source, ParseModelSource, true);
  r.Str("path", e.path);
  r.Str("endpoint", e.endpoint);
  r.Str("format", e.format);
  r.Str("quantization", e.quantization);
  r.U64("size_bytes", e.size_bytes);
  r.Str("revision", e.revision);
  r.Strings("refs", e.refs);
  ReadOptional(r, "parameter_count", e.parameter_count);
  ReadOptional(r, "tensor_count", e.tensor_count);
  ReadOptional(r, "context_length", e.context_length);
  r.Str("architecture", e.architecture);
  ReadOptional(r, "block_count", e.block_count);
  ReadOptional(r, "embedding_length", e.embedding_length);
  ReadOptional(r, "head_count", e.head_count);
  ReadOptional(r, "head_count_kv", e.head_count_kv);
  ReadOptional(r, "key_length", e.key_length);
  ReadOptional(r, "value_length", e.value_length);
  if (const json::value* lora = r.Object("lora")) {
    auto decoded = LoraFromJson(*lora, r.Path("lora"), r.options());
    if (!decoded.ok()) return decoded.status();
    e.lora = std::move(*decoded);
  }
  ReadOptional(r, "loaded", e.loaded);
  if (const json::value* memory = r.Object("memory")) {
    auto decoded = MemoryFromJson(*memory, r.Path("memory"), r.options());
    if (!decoded.ok()) return decoded.status();
    e.memory = std::move(*decoded);
  }
  if (!r.Finish().ok()) return r.status();
  return e;
}

json::object ToJson(const ModelScanProblem& p) {
  json::object o;
  PutStr(o, "source", p.source);
  PutStr(o, "path", p.path);
  PutStr(o, "message", p.message);
  return o;
}

Result<ModelScanProblem> ModelScanProblemFromJson(const json::value& v) {
  Reader r(v, "", ReadOptions{std::string(kInventoryHint)});
  ModelScanProblem p;
  r.Str("source", p.source);
  r.Str("path", p.path);
  r.Str("message", p.message);
  if (!r.ok()) return r.status();
  return p;
}

json::object ToJson(const ModelInventory& inv) {
  json::object o;
  o["schema_version"] = inv.schema_version;
  o["node_id"] = inv.node_id;
  PutTime(o, "generated_ms", inv.generated_ms);
  json::array entries;
  for (const auto& e : inv.entries) entries.emplace_back(ToJson(e));
  o["entries"] = std::move(entries);
  if (!inv.problems.empty()) {
    json::array problems;
    for (const auto& p : inv.problems) problems.emplace_back(ToJson(p));
    o["problems"] = std::move(problems);
  }
  return o;
}

Result<ModelInventory> ModelInventoryFromJson(const json::value& v) {
  const ReadOptions options{std::string(kInventoryHint)};
  Reader r(v, "", options);
  ModelInventory inv;
  int64_t version = 0;
  r.Int("schema_version", version, 1, std::numeric_limits<int32_t>::max(), true);
  if (r.ok() && version > kModelInventorySchemaVersion) {
    return InvalidArgument("schema_version: " + std::to_string(version) +
                               " is newer than this node reads (" +
                               std::to_string(kModelInventorySchemaVersion) + ")",
                           "upgrade vox on this node to read that node's inventory");
  }
  inv.schema_version = static_cast<int>(version);
  r.Str("node_id", inv.node_id, true);
  r.Int("generated_ms", inv.generated_ms);
  RequiredList(r, "entries", inv.entries,
               [&options](const json::value& e, const std::string& path) {
                 return ModelEntryFromJson(e, path, options);
               });
  r.List("problems", inv.problems, Element(ModelScanProblemFromJson));
  if (!r.ok()) return r.status();
  return inv;
}

Status ValidateModelInventory(const ModelInventory& inv) {
  POPULI_RETURN_IF_ERROR(ValidateId("node_id", inv.node_id));
  if (inv.entries.size() > kMaxInventoryEntries) {
    return {Code::kTooLarge,
            "entries: " + std::to_string(inv.entries.size()) + " entries, more than " +
                std::to_string(kMaxInventoryEntries),
            std::string(kInventoryHint)};
  }
  std::set<std::string_view> ids;
  for (size_t i = 0; i < inv.entries.size(); ++i) {
    const std::string& id = inv.entries[i].id;
    const std::string field = "entries[" + std::to_string(i) + "].id";
    if (id.empty() || id.size() > kMaxModelIdBytes || !IsValidUtf8(id)) {
      return InvalidArgument(
          field + ": expected 1.." + std::to_string(kMaxModelIdBytes) + " bytes of UTF-8",
          std::string(kInventoryHint));
    }
    if (!ids.insert(id).second)
      return InvalidArgument(field + ": \"" + id + "\" appears twice", std::string(kInventoryHint));
  }
  return Status::Ok();
}

}  // namespace populi::mesh
