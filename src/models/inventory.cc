#include "models/inventory.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "models/scan/file_cache.h"
#include "models/scan/sources.h"

namespace populi::models {

struct InventoryBuilder::State {
  InventoryOptions options;
  const Clock* clock = nullptr;
  scan::FileCache cache;
  bool cache_loaded = false;
};

std::string HubCacheDir(EnvLookup getenv) {
  if (getenv == nullptr) getenv = [](const char* name) -> const char* { return std::getenv(name); };
  auto var = [getenv](const char* name) -> std::string {
    const char* v = getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  if (std::string v = var("HF_HUB_CACHE"); !v.empty()) return v;
  if (std::string v = var("HF_HOME"); !v.empty()) return v + "/hub";
  if (std::string v = var("XDG_CACHE_HOME"); !v.empty()) return v + "/huggingface/hub";
  if (std::string v = var("HOME"); !v.empty()) return v + "/.cache/huggingface/hub";
  return {};
}

InventoryBuilder::InventoryBuilder(InventoryOptions options, const Clock& clock)
    : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->clock = &clock;
}

InventoryBuilder::~InventoryBuilder() = default;

namespace {

// Sorted by id, then path; the first of each id is kept. Each gets its memory estimate.
void FinishEntries(std::vector<mesh::ModelEntry>& entries, uint64_t context_length) {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.id != b.id ? a.id < b.id : a.path < b.path;
  });
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const auto& a, const auto& b) { return a.id == b.id; }),
                entries.end());
  for (auto& e : entries) e.memory = EstimateMemory(e, context_length);
}

}  // namespace

mesh::ModelInventory InventoryBuilder::Build() {
  State& s = *state_;
  scan::ScanContext ctx(s.cache);
  if (!s.cache_loaded && !s.options.cache_path.empty()) {
    Status loaded = s.cache.Load(s.options.cache_path);
    if (!loaded.ok()) ctx.Problem("cache", s.options.cache_path, loaded.message());
  }
  s.cache_loaded = true;
  s.cache.BeginScan();
  if (!s.options.hf_hub_dir.empty()) scan::ScanHfCache(s.options.hf_hub_dir, ctx);
  for (const auto& dir : s.options.model_dirs) scan::ScanModelDir(dir, s.options.max_depth, ctx);
  s.cache.EndScan();
  if (s.cache.dirty() && !s.options.cache_path.empty()) {
    Status saved = s.cache.Save(s.options.cache_path);
    if (!saved.ok()) ctx.Problem("cache", s.options.cache_path, saved.message());
  }
  mesh::ModelInventory inv;
  inv.node_id = s.options.node_id;
  inv.generated_ms = s.clock->NowMs();
  inv.entries = std::move(ctx.entries);
  FinishEntries(inv.entries, s.options.estimate_context_length);
  inv.problems = std::move(ctx.problems);
  return inv;
}

}  // namespace populi::models
