#include "mesh/inventory_json.h"

#include <array>
#include <limits>
#include <set>
#include <utility>

#include "mesh/json_internal.h"
#include "mesh/models_json.h"
#include "mesh/validate.h"

namespace populi::mesh {

using namespace json_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr std::string_view kReportHint = "see docs/models.md (Reporting) for the report's fields";

constexpr std::array<std::pair<InventoryFreshness, std::string_view>, 2> kFreshnessNames{{
    {InventoryFreshness::kFresh, "fresh"},
    {InventoryFreshness::kStale, "stale"},
}};

json::array IdArray(const std::vector<std::string>& ids) {
  json::array out;
  for (const auto& id : ids) out.emplace_back(id);
  return out;
}

json::array ProblemArray(const std::vector<ModelScanProblem>& problems) {
  json::array out;
  for (const auto& p : problems) out.emplace_back(ToJson(p));
  return out;
}

// An optional unsigned field of a foreign document (engine replies).
void ReadU64Opt(Reader& r, std::string_view key, std::optional<uint64_t>& out) {
  if (!r.Has(key)) return;
  uint64_t n = 0;
  r.U64(key, n);
  if (r.ok()) out = n;
}

// "schema_version": required, and not newer than this binary reads.
Status ReadInventoryVersion(Reader& r, int& out) {
  int64_t version = 0;
  r.Int("schema_version", version, 1, std::numeric_limits<int32_t>::max(), true);
  if (r.ok() && version > kModelInventorySchemaVersion) {
    return InvalidArgument("schema_version: " + std::to_string(version) +
                               " is newer than this control plane reads (" +
                               std::to_string(kModelInventorySchemaVersion) + ")",
                           "run the same vox version on the node and the control plane");
  }
  out = static_cast<int>(version);
  return r.status();
}

json::object HolderToJson(const ModelHolder& h) {
  json::object o;
  o["node_id"] = h.node_id;
  o["state"] = ToString(h.state);
  o["node_state"] = ToString(h.node_state);
  o["source"] = ToString(h.source);
  PutStr(o, "path", h.path);
  PutStr(o, "endpoint", h.endpoint);
  if (h.loaded) o["loaded"] = *h.loaded;
  if (!h.refs.empty()) o["refs"] = IdArray(h.refs);
  PutTime(o, "refreshed_ms", h.refreshed_ms);
  return o;
}

Result<ModelHolder> HolderFromJson(const json::value& v, const std::string& path) {
  Reader r(v, path, ReadOptions{std::string(kReportHint)});
  ModelHolder h;
  r.Str("node_id", h.node_id, true);
  r.Enum("state", h.state, ParseInventoryFreshness, true);
  r.Enum("node_state", h.node_state, ParseNodeState);
  r.Enum("source", h.source, ParseModelSource, true);
  r.Str("path", h.path);
  r.Str("endpoint", h.endpoint);
  if (r.Has("loaded")) {
    bool loaded = false;
    r.Bool("loaded", loaded);
    h.loaded = loaded;
  }
  r.Strings("refs", h.refs);
  r.Int("refreshed_ms", h.refreshed_ms);
  if (!r.ok()) return r.status();
  return h;
}

json::object NodeStatusToJson(const NodeInventoryStatus& n) {
  json::object o;
  o["node_id"] = n.node_id;
  o["state"] = ToString(n.state);
  o["node_state"] = ToString(n.node_state);
  o["generation"] = n.generation;
  o["poll_ms"] = n.poll_ms;
  PutTime(o, "refreshed_ms", n.refreshed_ms);
  PutTime(o, "updated_ms", n.updated_ms);
  o["models"] = n.models;
  if (!n.problems.empty()) o["problems"] = ProblemArray(n.problems);
  return o;
}

Result<NodeInventoryStatus> NodeStatusFromJson(const json::value& v, const std::string& path) {
  Reader r(v, path, ReadOptions{std::string(kReportHint)});
  NodeInventoryStatus n;
  r.Str("node_id", n.node_id, true);
  r.Enum("state", n.state, ParseInventoryFreshness, true);
  r.Enum("node_state", n.node_state, ParseNodeState);
  r.Int("generation", n.generation);
  r.Int("poll_ms", n.poll_ms);
  r.Int("refreshed_ms", n.refreshed_ms);
  r.Int("updated_ms", n.updated_ms);
  r.Int("models", n.models);
  r.List("problems", n.problems, Element(ModelScanProblemFromJson));
  if (!r.ok()) return r.status();
  return n;
}

Status CheckModelId(const std::string& field, const std::string& id) {
  if (id.empty() || id.size() > kMaxModelIdBytes || !IsValidUtf8(id)) {
    return InvalidArgument(
        field + ": expected 1.." + std::to_string(kMaxModelIdBytes) + " bytes of UTF-8",
        std::string(kReportHint));
  }
  return Status::Ok();
}

Status CheckCount(const std::string& field, size_t n, size_t max) {
  if (n <= max) return Status::Ok();
  return {Code::kTooLarge,
          field + ": " + std::to_string(n) + " items, more than " + std::to_string(max),
          std::string(kReportHint)};
}

}  // namespace

std::string_view ToString(InventoryFreshness v) {
  for (const auto& [e, name] : kFreshnessNames)
    if (e == v) return name;
  return "unknown";
}

Result<InventoryFreshness> ParseInventoryFreshness(std::string_view s) {
  for (const auto& [e, name] : kFreshnessNames)
    if (name == s) return e;
  return InvalidArgument("unknown inventory state \"" + std::string(s) + "\"",
                         "one of fresh, stale");
}

// ---- the report ----

json::object ToJson(const InventoryReport& r) {
  json::object o;
  o["schema_version"] = r.schema_version;
  o["node_id"] = r.node_id;
  o["base_generation"] = r.base_generation;
  if (r.refresh) o["refresh"] = true;
  o["poll_ms"] = r.poll_ms;
  PutTime(o, "generated_ms", r.generated_ms);
  json::array entries;
  for (const auto& e : r.entries) entries.emplace_back(ToJson(e));
  o["entries"] = std::move(entries);
  if (!r.removed.empty()) o["removed"] = IdArray(r.removed);
  if (!r.problems.empty()) o["problems"] = ProblemArray(r.problems);
  return o;
}

Result<InventoryReport> InventoryReportFromJson(const json::value& v) {
  const ReadOptions options{std::string(kReportHint)};
  Reader r(v, "", options);
  InventoryReport rep;
  if (Status s = ReadInventoryVersion(r, rep.schema_version); !s.ok()) return s;
  r.Str("node_id", rep.node_id, true);
  r.Int("base_generation", rep.base_generation);
  r.Bool("refresh", rep.refresh);
  r.Int("poll_ms", rep.poll_ms);
  r.Int("generated_ms", rep.generated_ms);
  r.List("entries", rep.entries, [&options](const json::value& e, const std::string& path) {
    return ModelEntryFromJson(e, path, options);
  });
  r.Strings("removed", rep.removed);
  r.List("problems", rep.problems, Element(ModelScanProblemFromJson));
  if (!r.ok()) return r.status();
  return rep;
}

json::object ToJson(const InventoryReportReply& r) {
  return json::object{
      {"node_id", r.node_id}, {"generation", r.generation}, {"server_time_ms", r.server_time_ms},
      {"added", r.added},     {"removed", r.removed},       {"changed", r.changed}};
}

Result<InventoryReportReply> InventoryReportReplyFromJson(const json::value& v) {
  Reader r(v, "", ReadOptions{std::string(kReportHint)});
  InventoryReportReply rep;
  r.Str("node_id", rep.node_id, true);
  r.Int("generation", rep.generation, 0, std::numeric_limits<int64_t>::max(), true);
  r.Int("server_time_ms", rep.server_time_ms);
  r.Int("added", rep.added);
  r.Int("removed", rep.removed);
  r.Int("changed", rep.changed);
  if (!r.ok()) return r.status();
  return rep;
}

// ---- what the control plane keeps ----

json::object ToJson(const StoredInventory& s) {
  return json::object{{"generation", s.generation},
                      {"poll_ms", s.poll_ms},
                      {"updated_ms", s.updated_ms},
                      {"inventory", ToJson(s.inventory)}};
}

Result<StoredInventory> StoredInventoryFromJson(const json::value& v) {
  Reader r(v, "", ReadOptions{std::string(kReportHint)});
  StoredInventory s;
  r.Int("generation", s.generation, 0, std::numeric_limits<int64_t>::max(), true);
  r.Int("poll_ms", s.poll_ms);
  r.Int("updated_ms", s.updated_ms);
  if (const json::value* inv = r.Object("inventory", true)) {
    auto decoded = ModelInventoryFromJson(*inv);
    if (!decoded.ok()) return AtPath(decoded.status(), "inventory");
    s.inventory = std::move(*decoded);
  }
  if (!r.ok()) return r.status();
  return s;
}

json::object ToJson(const InventoryRefresh& r) {
  return json::object{
      {"generation", r.generation}, {"poll_ms", r.poll_ms}, {"refreshed_ms", r.refreshed_ms}};
}

Result<InventoryRefresh> InventoryRefreshFromJson(const json::value& v) {
  Reader r(v, "", ReadOptions{std::string(kReportHint)});
  InventoryRefresh rf;
  r.Int("generation", rf.generation, 0, std::numeric_limits<int64_t>::max(), true);
  r.Int("poll_ms", rf.poll_ms);
  r.Int("refreshed_ms", rf.refreshed_ms);
  if (!r.ok()) return r.status();
  return rf;
}

// ---- the mesh-wide listing ----

json::object ToJson(const MeshModel& m) {
  json::object o = ToJson(m.model);
  json::array nodes;
  for (const auto& h : m.nodes) nodes.emplace_back(HolderToJson(h));
  o["nodes"] = std::move(nodes);
  return o;
}

Result<MeshModel> MeshModelFromJson(const json::value& v) {
  const ReadOptions options{std::string(kReportHint)};
  MeshModel m;
  auto entry = ModelEntryFromJson(v, "", options);
  if (!entry.ok()) return entry.status();
  m.model = std::move(*entry);
  Reader r(v, "", options);
  RequiredList(r, "nodes", m.nodes, HolderFromJson);
  if (!r.ok()) return r.status();
  return m;
}

json::object ToJson(const MeshModelList& l) {
  json::object o;
  o["server_time_ms"] = l.server_time_ms;
  json::array models;
  for (const auto& m : l.models) models.emplace_back(ToJson(m));
  o["models"] = std::move(models);
  json::array nodes;
  for (const auto& n : l.nodes) nodes.emplace_back(NodeStatusToJson(n));
  o["nodes"] = std::move(nodes);
  return o;
}

Result<MeshModelList> MeshModelListFromJson(const json::value& v) {
  Reader r(v, "", ReadOptions{std::string(kReportHint)});
  MeshModelList l;
  r.Int("server_time_ms", l.server_time_ms);
  RequiredList(r, "models", l.models, Element(MeshModelFromJson));
  r.List("nodes", l.nodes, NodeStatusFromJson);
  if (!r.ok()) return r.status();
  return l;
}

// ---- engines ----

Result<std::vector<EngineModel>> EngineModelListFromJson(const json::value& v) {
  const ReadOptions options{"the endpoint must answer GET /v1/models in the OpenAI shape"};
  Reader r(v, "", options);
  std::vector<EngineModel> models;
  RequiredList(r, "data", models,
               [&options](const json::value& e, const std::string& path) -> Result<EngineModel> {
                 Reader m(e, path, options);
                 EngineModel out;
                 m.Str("id", out.id, true);
                 m.Str("owned_by", out.owned_by);
                 m.Str("parent", out.parent);
                 ReadU64Opt(m, "max_model_len", out.max_model_len);
                 if (const json::value* meta = m.Object("meta")) {
                   Reader mm(*meta, m.Path("meta"), options);
                   ReadU64Opt(mm, "n_ctx_train", out.n_ctx_train);
                   ReadU64Opt(mm, "n_params", out.n_params);
                   ReadU64Opt(mm, "size", out.size);
                   if (!mm.ok()) return mm.status();
                 }
                 if (!m.ok()) return m.status();
                 return out;
               });
  if (!r.ok()) return r.status();
  return models;
}

Result<std::vector<OllamaLoadedModel>> OllamaLoadedModelsFromJson(const json::value& v) {
  const ReadOptions options{"the endpoint must answer GET /api/ps as Ollama does"};
  Reader r(v, "", options);
  std::vector<OllamaLoadedModel> models;
  if (r.ok() && r.Raw("models") == nullptr) r.Fail("models", "required field is missing");
  r.List("models", models,
         [&options](const json::value& e, const std::string& path) -> Result<OllamaLoadedModel> {
           Reader m(e, path, options);
           OllamaLoadedModel out;
           m.Str("name", out.name);
           m.Str("model", out.model);
           ReadU64Opt(m, "context_length", out.context_length);
           if (const json::value* details = m.Object("details")) {
             Reader d(*details, m.Path("details"), options);
             d.Str("format", out.format);
             d.Str("quantization_level", out.quantization);
             if (!d.ok()) return d.status();
           }
           if (!m.ok()) return m.status();
           return out;
         });
  if (!r.ok()) return r.status();
  return models;
}

json::object ModelEventData(const std::string& node_id, const ModelEntry& e) {
  json::object o;
  o["node_id"] = node_id;
  PutStr(o, "name", e.name);
  o["source"] = ToString(e.source);
  PutStr(o, "format", e.format);
  PutStr(o, "quantization", e.quantization);
  o["size_bytes"] = e.size_bytes;
  PutStr(o, "path", e.path);
  PutStr(o, "endpoint", e.endpoint);
  return o;
}

// ---- validation ----

Status ValidateInventoryReport(const InventoryReport& r) {
  POPULI_RETURN_IF_ERROR(ValidateId("node_id", r.node_id));
  if (r.poll_ms < kMinInventoryPollMs || r.poll_ms > kMaxInventoryPollMs) {
    return InvalidArgument("poll_ms: " + std::to_string(r.poll_ms) + " is outside " +
                               std::to_string(kMinInventoryPollMs) + ".." +
                               std::to_string(kMaxInventoryPollMs),
                           std::string(kReportHint));
  }
  if (r.whole() && r.refresh) {
    return InvalidArgument("refresh: a refresh needs a base_generation",
                           "send the whole inventory with base_generation 0 and no refresh");
  }
  POPULI_RETURN_IF_ERROR(CheckCount("entries", r.entries.size(), kMaxInventoryEntries));
  POPULI_RETURN_IF_ERROR(CheckCount("removed", r.removed.size(), kMaxInventoryEntries));
  POPULI_RETURN_IF_ERROR(CheckCount("problems", r.problems.size(), kMaxInventoryProblems));
  std::set<std::string_view> ids;
  for (size_t i = 0; i < r.entries.size(); ++i) {
    const std::string field = "entries[" + std::to_string(i) + "].id";
    POPULI_RETURN_IF_ERROR(CheckModelId(field, r.entries[i].id));
    if (!ids.insert(r.entries[i].id).second) {
      return InvalidArgument(field + ": \"" + r.entries[i].id + "\" appears twice",
                             std::string(kReportHint));
    }
  }
  std::set<std::string_view> removed;
  for (size_t i = 0; i < r.removed.size(); ++i) {
    const std::string field = "removed[" + std::to_string(i) + "]";
    POPULI_RETURN_IF_ERROR(CheckModelId(field, r.removed[i]));
    if (ids.count(r.removed[i]) != 0 || !removed.insert(r.removed[i]).second) {
      return InvalidArgument(field + ": \"" + r.removed[i] + "\" is named twice",
                             "name each id once: in entries or in removed");
    }
  }
  return Status::Ok();
}

}  // namespace populi::mesh
