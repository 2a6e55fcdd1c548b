// Finds the model files under one configured directory without opening any of them: the walk
// costs one readdir per directory and a stat only where the directory entry does not say what
// it is (symbolic links, file systems without d_type).
#pragma once

#include <string>
#include <vector>

#include "models/scan/context.h"
#include "util/status.h"

namespace populi::models::scan {

struct ModelDirFiles {
  std::vector<std::string> gguf;          // *.gguf
  std::vector<std::string> safetensors;   // *.safetensors outside adapter directories
  std::vector<std::string> indexes;       // *.safetensors.index.json
  std::vector<std::string> adapter_dirs;  // directories holding adapter_config.json (not entered)
};

// Walks `root` and the directories below it down to `max_depth` levels, following symbolic
// links (each directory once, by device and inode) and skipping names that start with '.'.
// Each list comes out sorted. A missing or unreadable root is an error; an unreadable
// directory below it is a problem in `ctx` and the walk goes on.
Status FindModelFiles(const std::string& root, int max_depth, ModelDirFiles& out, ScanContext& ctx);

// Whether `name` ends with `suffix`, ignoring ASCII case.
bool EndsWithNoCase(std::string_view name, std::string_view suffix);

}  // namespace populi::models::scan
