#include "models/scan/file_facts.h"
#include "models/scan/files.h"
#include "models/scan/sources.h"

namespace populi::models::scan {

void AddGgufFile(const std::string& path, ScanContext& ctx) {
  auto facts = FileFactsOf(path, FileKind::kGguf, true, ctx);
  if (!facts.ok()) {
    ctx.Problem("gguf", path, facts.status().message());
    return;
  }
  mesh::ModelEntry e = std::move(*facts);
  e.path = path;
  if (e.name.empty()) {
    e.name = BaseName(path);
    e.name.resize(e.name.size() - 5);  // ".gguf"
  }
  SetWeightsBytes(e.size_bytes, e);
  ctx.entries.push_back(std::move(e));
}

}  // namespace populi::models::scan
