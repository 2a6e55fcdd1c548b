#include "agent/engine_source.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "client/http_client.h"
#include "mesh/inventory_json.h"
#include "mesh/json.h"
#include "mesh/models_json.h"
#include "mesh/validate.h"

namespace populi::agent {

namespace {

constexpr size_t kMaxEngineJsonDepth = 32;
constexpr char kEngineHint[] =
    "check that an OpenAI-compatible engine serves this endpoint ([mesh.inference] endpoints)";

// What a failed call says, without the client's wording (it speaks of a control plane).
std::string CallFailure(const Status& s, int timeout_ms) {
  if (s.code() == Code::kTimeout) return "no answer within " + std::to_string(timeout_ms) + " ms";
  const std::string& m = s.message();
  const size_t colon = m.rfind(": ");
  return "unreachable (" + (colon == std::string::npos ? m : m.substr(colon + 2)) + ")";
}

mesh::ModelEntry EntryOf(const mesh::EngineModel& m, const EngineEndpoint& ep) {
  mesh::ModelEntry e;
  e.id = EngineModelId(m.id, ep.url);
  e.name = m.id;
  e.source = mesh::ModelSource::kEngine;
  e.endpoint = ep.url;
  // llama.cpp's server serves GGUF files only.
  if (m.owned_by == "llamacpp") e.format = "gguf";
  if (m.size) e.size_bytes = *m.size;
  e.parameter_count = m.n_params;
  e.context_length = m.max_model_len ? m.max_model_len : m.n_ctx_train;
  if (!m.parent.empty() && m.parent != m.id) {
    e.lora = mesh::LoraInfo{};
    e.lora->base_model = m.parent;
  }
  e.loaded = true;
  return e;
}

// Ollama lists every model it has on disk; /api/ps says which are in memory.
void ApplyOllamaLoaded(std::vector<mesh::ModelEntry>& entries,
                       const std::vector<mesh::OllamaLoadedModel>& loaded) {
  std::map<std::string, const mesh::OllamaLoadedModel*> by_name;
  for (const auto& m : loaded) {
    by_name.emplace(m.name, &m);
    by_name.emplace(m.model, &m);
  }
  for (auto& e : entries) {
    auto it = by_name.find(e.name);
    e.loaded = it != by_name.end();
    if (it == by_name.end()) continue;
    if (it->second->context_length) e.context_length = it->second->context_length;
    if (!it->second->format.empty()) e.format = it->second->format;
    if (!it->second->quantization.empty()) e.quantization = it->second->quantization;
  }
}

}  // namespace

struct EngineSource::Endpoint {
  enum class Kind { kUnknown, kOllama, kOther };

  EngineEndpoint where;
  client::HttpClient http;
  Kind kind = Kind::kUnknown;

  explicit Endpoint(EngineEndpoint ep) : where(std::move(ep)), http(where.origin) {}

  // GET prefix + path → JSON, or a problem message.
  Result<boost::json::value> Get(const std::string& path, int timeout_ms) {
    auto response = http.SendRaw("GET", where.prefix + path, {}, {}, timeout_ms);
    if (!response.ok()) return Unavailable(CallFailure(response.status(), timeout_ms), kEngineHint);
    if (response->status != 200) {
      return FailedPrecondition("answered HTTP " + std::to_string(response->status), kEngineHint);
    }
    auto doc = mesh::ParseJson(response->body, kMaxEngineJsonDepth);
    if (!doc.ok())
      return InvalidArgument("answered with invalid JSON: " + doc.status().message(), kEngineHint);
    return doc;
  }
};

std::string EngineModelId(const std::string& model, const std::string& endpoint_url) {
  return model + "@" + endpoint_url;
}

Result<EngineEndpoint> ParseEngineEndpoint(const std::string& text) {
  auto invalid = [&](const std::string& why) {
    return InvalidArgument("mesh.inference.endpoints: \"" + text + "\" " + why,
                           "give an engine's base URL, e.g. http://127.0.0.1:8080 (llama-server), "
                           "http://127.0.0.1:8000 (vLLM), http://127.0.0.1:11434 (Ollama)");
  };
  EngineEndpoint ep;
  size_t scheme_end = 0;
  if (text.rfind("http://", 0) == 0) {
    scheme_end = 7;
  } else if (text.rfind("https://", 0) == 0) {
    scheme_end = 8;
  } else {
    return invalid("is not an http:// or https:// URL");
  }
  const size_t slash = text.find('/', scheme_end);
  ep.origin = text.substr(0, slash);
  const std::string authority = ep.origin.substr(scheme_end);
  if (authority.empty()) return invalid("names no host");
  if (authority.find_first_of("@?# ") != std::string::npos)
    return invalid("must be scheme://host[:port] with an optional path");
  ep.prefix = slash == std::string::npos ? "" : text.substr(slash);
  if (ep.prefix.find_first_of("?# ") != std::string::npos)
    return invalid("must not carry a query or fragment");
  while (!ep.prefix.empty() && ep.prefix.back() == '/') ep.prefix.pop_back();
  if (ep.prefix.size() >= 3 && ep.prefix.compare(ep.prefix.size() - 3, 3, "/v1") == 0)
    ep.prefix.resize(ep.prefix.size() - 3);
  while (!ep.prefix.empty() && ep.prefix.back() == '/') ep.prefix.pop_back();
  ep.url = ep.origin + ep.prefix;
  return ep;
}

EngineSource::EngineSource(std::vector<EngineEndpoint> endpoints, int timeout_ms)
    : timeout_ms_(timeout_ms) {
  for (auto& ep : endpoints) endpoints_.push_back(std::make_unique<Endpoint>(std::move(ep)));
}

EngineSource::~EngineSource() = default;

void EngineSource::ScanOne(Endpoint& ep, std::vector<mesh::ModelEntry>& entries,
                           std::vector<mesh::ModelScanProblem>& problems, bool& failed) {
  auto problem = [&](const std::string& what) {
    problems.push_back({"engine", ep.where.url, what});
    failed = true;
  };
  auto doc = ep.Get("/v1/models", timeout_ms_);
  std::vector<mesh::EngineModel> listed;
  if (doc.ok()) {
    auto decoded = mesh::EngineModelListFromJson(*doc);
    if (decoded.ok()) {
      listed = std::move(*decoded);
    } else {
      doc = decoded.status();
    }
  }
  if (!doc.ok()) {
    ep.kind = Endpoint::Kind::kUnknown;  // another engine may answer there next time
    return problem("GET /v1/models: " + doc.status().message());
  }
  std::vector<mesh::ModelEntry> found;
  std::set<std::string> seen;
  for (const auto& m : listed) {
    mesh::ModelEntry e = EntryOf(m, ep.where);
    if (e.id.size() > mesh::kMaxModelIdBytes || !mesh::IsValidUtf8(e.id)) {
      problem("model \"" + m.id.substr(0, 64) + "\": its id is not 1.." +
              std::to_string(mesh::kMaxModelIdBytes) + " bytes of UTF-8");
      continue;
    }
    if (seen.insert(e.id).second) found.push_back(std::move(e));
  }
  // Ollama is told apart by its own route; asked once, and again after the endpoint failed.
  if (ep.kind != Endpoint::Kind::kOther) {
    auto ps = ep.Get("/api/ps", timeout_ms_);
    Result<std::vector<mesh::OllamaLoadedModel>> loaded =
        ps.ok() ? mesh::OllamaLoadedModelsFromJson(*ps) : ps.status();
    if (loaded.ok()) {
      ep.kind = Endpoint::Kind::kOllama;
      ApplyOllamaLoaded(found, *loaded);
    } else if (ep.kind == Endpoint::Kind::kOllama) {
      for (auto& e : found) e.loaded.reset();
      problem("GET /api/ps: " + loaded.status().message());
    } else {
      ep.kind = Endpoint::Kind::kOther;
    }
  }
  for (auto& e : found) entries.push_back(std::move(e));
}

int EngineSource::Scan(mesh::ModelInventory& inv) {
  int failures = 0;
  std::vector<mesh::ModelEntry> found;
  for (auto& ep : endpoints_) {
    bool failed = false;
    ScanOne(*ep, found, inv.problems, failed);
    if (failed) ++failures;
  }
  if (found.empty()) return failures;
  for (auto& e : found) inv.entries.push_back(std::move(e));
  std::stable_sort(
      inv.entries.begin(), inv.entries.end(),
      [](const mesh::ModelEntry& a, const mesh::ModelEntry& b) { return a.id < b.id; });
  inv.entries.erase(std::unique(inv.entries.begin(), inv.entries.end(),
                                [](const auto& a, const auto& b) { return a.id == b.id; }),
                    inv.entries.end());
  return failures;
}

}  // namespace populi::agent
