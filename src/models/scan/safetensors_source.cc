#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "models/scan/file_facts.h"
#include "models/scan/files.h"
#include "models/scan/safetensors.h"
#include "models/scan/sources.h"

namespace populi::models::scan {
namespace {

// A model that is its whole directory: named after it, described by its config.json.
void FinishDirectoryModel(const std::string& dir, mesh::ModelEntry& e, ScanContext& ctx) {
  e.path = dir;
  e.name = BaseName(dir);
  ApplyConfigJsonIn(dir, "safetensors", e, ctx);
}

void AddIndexedModel(const std::string& index, std::set<std::string>& claimed, ScanContext& ctx) {
  auto shards = ReadSafetensorsIndex(index);
  if (!shards.ok()) {
    ctx.Problem("safetensors", index, shards.status().message());
    return;
  }
  const std::string dir = DirName(index);
  SafetensorsSum sum;
  bool complete = true;
  for (const auto& shard : *shards) {
    const std::string path = JoinPath(dir, shard);
    claimed.insert(path);
    auto facts = FileFactsOf(path, FileKind::kSafetensors, true, ctx);
    if (!facts.ok()) {
      ctx.Problem("safetensors", path, facts.status().message());
      complete = false;
      continue;
    }
    sum.Add(path, *facts);
  }
  if (!complete || shards->empty()) return;  // a model with a missing shard cannot be loaded
  mesh::ModelEntry e = sum.Entry();
  FinishDirectoryModel(dir, e, ctx);
  ctx.entries.push_back(std::move(e));
}

}  // namespace

void AddSafetensorsModels(const ModelDirFiles& files, ScanContext& ctx) {
  std::set<std::string> claimed;
  for (const auto& index : files.indexes) AddIndexedModel(index, claimed, ctx);
  for (const auto& path : files.safetensors) {
    if (claimed.count(path)) continue;
    auto facts = FileFactsOf(path, FileKind::kSafetensors, true, ctx);
    if (!facts.ok()) {
      ctx.Problem("safetensors", path, facts.status().message());
      continue;
    }
    SafetensorsSum sum;
    sum.Add(path, *facts);
    mesh::ModelEntry e = sum.Entry();
    if (BaseName(path) == "model.safetensors") {
      FinishDirectoryModel(DirName(path), e, ctx);
    } else {
      e.path = path;
      e.name = BaseName(path);
      e.name.resize(e.name.size() - std::string_view(".safetensors").size());
    }
    ctx.entries.push_back(std::move(e));
  }
}

}  // namespace populi::models::scan
