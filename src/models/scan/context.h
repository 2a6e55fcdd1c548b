// What one scan accumulates, shared by the scanners: the file cache, the entries found and the
// problems met. A problem never stops a scan; it is reported beside the entries.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mesh/models.h"
#include "models/scan/file_cache.h"

namespace populi::models::scan {

struct ScanContext {
  explicit ScanContext(FileCache& c) : cache(c) {}

  void Problem(std::string_view source, std::string path, std::string message) {
    problems.push_back({std::string(source), std::move(path), std::move(message)});
  }

  FileCache& cache;
  std::vector<mesh::ModelEntry> entries;
  std::vector<mesh::ModelScanProblem> problems;
};

}  // namespace populi::models::scan
