// The facts of one model file, through the file cache: its header parsed once per (path, size,
// mtime), and its content hash computed once when the caller needs the file's identity.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mesh/models.h"
#include "models/scan/context.h"
#include "models/scan/gguf.h"
#include "util/status.h"

namespace populi::models::scan {

// kOther: a file whose header is not read (an adapter's PyTorch weights); only size and id.
enum class FileKind { kGguf, kSafetensors, kOther };

// The entry the file's header describes: size_bytes, format, and for GGUF the name,
// architecture, quantisation and shape; for safetensors the parameter and tensor counts and the
// dtypes (quantization). With `need_id`, id is "sha256:<hex of the file>"; without, it may be
// empty. An unreadable header is an error (cached: not re-read until the file changes).
Result<mesh::ModelEntry> FileFactsOf(const std::string& path, FileKind kind, bool need_id,
                                     ScanContext& ctx);

// Copies a parsed GGUF header into `e` (everything but identity, path and size).
void ApplyGgufInfo(const GgufInfo& info, mesh::ModelEntry& e);

// "sha256:<hex>" over several files' ids: the identity of a model made of several files
// (shards, an adapter's files), independent of where they are. `parts` are (file name, id).
std::string CombinedId(std::vector<std::pair<std::string, std::string>> parts);

// The facts of several safetensors files (one model's shards) added up; dtypes keep the order in
// which the files, added in name order, first name them.
class SafetensorsSum {
 public:
  void Add(const std::string& path, const mesh::ModelEntry& facts);
  // Sets format, parameter and tensor counts, quantization (the dtypes) and the weights of the
  // memory estimate.
  void ApplyTo(mesh::ModelEntry& e) const;
  // A safetensors entry of these files: the above, size_bytes, and the id (the file's own for
  // one file, CombinedId for several).
  mesh::ModelEntry Entry() const;
  uint64_t size() const { return size_; }

 private:
  uint64_t size_ = 0;
  uint64_t parameters_ = 0;
  uint64_t tensors_ = 0;
  std::vector<std::string> dtypes_;
  std::vector<std::pair<std::string, std::string>> ids_;  // (file name, id)
};

}  // namespace populi::models::scan
