#include "models/scan/walk.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "models/scan/files.h"

namespace populi::models::scan {
namespace {

struct DirEntryKind {
  bool is_dir = false;
  bool is_file = false;
};

DirEntryKind KindOf(const std::string& path, unsigned char d_type) {
  if (d_type == DT_DIR) return {true, false};
  if (d_type == DT_REG) return {false, true};
  if (d_type != DT_LNK && d_type != DT_UNKNOWN) return {};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};  // a dangling link: nothing to scan
  return {S_ISDIR(st.st_mode), S_ISREG(st.st_mode)};
}

struct PendingDir {
  std::string path;
  int depth = 0;
};

class ModelDirWalker {
 public:
  ModelDirWalker(int max_depth, ModelDirFiles& out, ScanContext& ctx)
      : max_depth_(max_depth), out_(out), ctx_(ctx) {}

  Status Run(const std::string& root) {
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return NotFound(root + ": not a directory", "check the configured model directories");
    visited_.insert({st.st_dev, st.st_ino});
    std::vector<PendingDir> todo{{root, 0}};
    while (!todo.empty()) {
      PendingDir dir = std::move(todo.back());
      todo.pop_back();
      Visit(dir, todo);
    }
    for (auto* list : {&out_.gguf, &out_.safetensors, &out_.indexes, &out_.adapter_dirs})
      std::sort(list->begin(), list->end());
    return Status::Ok();
  }

 private:
  void Visit(const PendingDir& dir, std::vector<PendingDir>& todo) {
    DIR* d = ::opendir(dir.path.c_str());
    if (d == nullptr) {
      ctx_.Problem("model_dir", dir.path, std::string("cannot list: ") + std::strerror(errno));
      return;
    }
    std::vector<std::string> files;
    std::vector<std::string> subdirs;
    bool adapter = false;
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name = e->d_name;
      if (name.empty() || name.front() == '.') continue;
      std::string path = JoinPath(dir.path, name);
      const DirEntryKind kind = KindOf(path, e->d_type);
      if (kind.is_dir) {
        subdirs.push_back(std::move(path));
      } else if (kind.is_file) {
        if (name == "adapter_config.json") adapter = true;
        files.push_back(std::move(path));
      }
    }
    ::closedir(d);
    if (adapter) {
      out_.adapter_dirs.push_back(dir.path);
    }
    for (auto& path : files) {
      if (EndsWithNoCase(path, ".gguf")) {
        out_.gguf.push_back(std::move(path));
      } else if (!adapter && EndsWithNoCase(path, ".safetensors")) {
        out_.safetensors.push_back(std::move(path));
      } else if (!adapter && EndsWithNoCase(path, ".safetensors.index.json")) {
        out_.indexes.push_back(std::move(path));
      }
    }
    if (adapter || dir.depth >= max_depth_) return;
    for (auto& path : subdirs) {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || !visited_.insert({st.st_dev, st.st_ino}).second)
        continue;  // gone, or already walked through another link
      todo.push_back({std::move(path), dir.depth + 1});
    }
  }

  int max_depth_;
  ModelDirFiles& out_;
  ScanContext& ctx_;
  std::set<std::pair<dev_t, ino_t>> visited_;
};

}  // namespace

bool EndsWithNoCase(std::string_view name, std::string_view suffix) {
  if (name.size() < suffix.size()) return false;
  const std::string_view tail = name.substr(name.size() - suffix.size());
  return std::equal(tail.begin(), tail.end(), suffix.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

Status FindModelFiles(const std::string& root, int max_depth, ModelDirFiles& out,
                      ScanContext& ctx) {
  return ModelDirWalker(max_depth, out, ctx).Run(root);
}

}  // namespace populi::models::scan
