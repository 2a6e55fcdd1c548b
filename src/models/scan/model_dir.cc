#include <sys/stat.h>

#include "models/scan/files.h"
#include "models/scan/model_config.h"
#include "models/scan/sources.h"

namespace populi::models::scan {

void ScanModelDir(const std::string& root, int max_depth, ScanContext& ctx) {
  ModelDirFiles files;
  Status walked = FindModelFiles(root, max_depth, files, ctx);
  if (!walked.ok()) {
    ctx.Problem("model_dir", root, walked.message());
    return;
  }
  for (const auto& path : files.gguf) AddGgufFile(path, ctx);
  AddSafetensorsModels(files, ctx);
  for (const auto& dir : files.adapter_dirs) AddLoraAdapter(dir, ctx);
}

void ApplyConfigJsonIn(const std::string& dir, std::string_view source, mesh::ModelEntry& e,
                       ScanContext& ctx) {
  const std::string path = JoinPath(dir, "config.json");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  auto text = ReadWholeFile(path, kMaxModelJsonBytes);
  Status applied = text.ok() ? ApplyModelConfig(*text, e) : text.status();
  if (!applied.ok()) ctx.Problem(source, path, applied.message());
}

void SetWeightsBytes(uint64_t bytes, mesh::ModelEntry& e) {
  e.memory = mesh::MemoryEstimate{};
  e.memory->weights_bytes = bytes;
  e.memory->total_bytes = bytes;
}

}  // namespace populi::models::scan
