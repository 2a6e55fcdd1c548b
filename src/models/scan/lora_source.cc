#include <dirent.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "models/scan/file_facts.h"
#include "models/scan/files.h"
#include "models/scan/model_config.h"
#include "models/scan/sha256.h"
#include "models/scan/sources.h"
#include "models/scan/walk.h"

namespace populi::models::scan {
namespace {

// The adapter's weight files: adapter_model.safetensors / .bin, or other adapter_model* files.
std::vector<std::string> AdapterWeightFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.starts_with("adapter_model") &&
        (EndsWithNoCase(name, ".safetensors") || EndsWithNoCase(name, ".bin")))
      out.push_back(JoinPath(dir, name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void AddLoraAdapter(const std::string& dir, ScanContext& ctx) {
  const std::string config_path = JoinPath(dir, "adapter_config.json");
  auto text = ReadWholeFile(config_path, kMaxModelJsonBytes);
  if (!text.ok()) {
    ctx.Problem("lora", config_path, text.status().message());
    return;
  }
  auto lora = ReadAdapterConfig(*text);
  if (!lora.ok()) {
    ctx.Problem("lora", config_path, lora.status().message());
    return;
  }
  const std::vector<std::string> weights = AdapterWeightFiles(dir);
  if (weights.empty()) {
    ctx.Problem("lora", dir, "adapter_config.json without adapter_model weights");
    return;
  }
  mesh::ModelEntry e;
  e.source = mesh::ModelSource::kLora;
  e.name = BaseName(dir);
  e.path = dir;
  e.lora = std::move(*lora);
  std::vector<std::pair<std::string, std::string>> ids{
      {"adapter_config.json", "sha256:" + Sha256OfBytes(*text)}};
  uint64_t weight_bytes = 0;
  for (const auto& path : weights) {
    const bool safetensors = EndsWithNoCase(path, ".safetensors");
    auto facts =
        FileFactsOf(path, safetensors ? FileKind::kSafetensors : FileKind::kOther, true, ctx);
    if (!facts.ok()) {
      ctx.Problem("lora", path, facts.status().message());
      return;
    }
    ids.emplace_back(BaseName(path), facts->id);
    weight_bytes += facts->size_bytes;
    if (safetensors) {
      e.format = "safetensors";
      e.parameter_count = e.parameter_count.value_or(0) + facts->parameter_count.value_or(0);
      e.tensor_count = e.tensor_count.value_or(0) + facts->tensor_count.value_or(0);
      e.quantization = facts->quantization;
    } else if (e.format.empty()) {
      e.format = "pytorch";
    }
  }
  e.id = CombinedId(std::move(ids));
  e.size_bytes = weight_bytes + text->size();
  SetWeightsBytes(weight_bytes, e);
  ctx.entries.push_back(std::move(e));
}

}  // namespace populi::models::scan
