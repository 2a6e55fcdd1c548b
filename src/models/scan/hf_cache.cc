// The Hugging Face hub cache (MESH-077): hub/models--org--name/{blobs,refs,snapshots}. A
// snapshot directory holds the repository's files at one commit as links into blobs/ (named by
// their hash); refs/<name> holds the commit a ref names. Nothing here is hashed: the hub's own
// (repository, commit) is the identity.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "models/scan/file_facts.h"
#include "models/scan/files.h"
#include "models/scan/model_config.h"
#include "models/scan/safetensors.h"
#include "models/scan/sources.h"
#include "models/scan/walk.h"

namespace populi::models::scan {
namespace {

constexpr int kMaxSnapshotDepth = 16;
constexpr int kMaxRefDepth = 4;
constexpr uint64_t kMaxRefBytes = 256;

struct HubDirEntry {
  std::string name;
  bool is_dir = false;
  bool is_file = false;
  bool dangling = false;  // a link whose target is missing
};

// The entries of `dir` (links followed), sorted by name; names starting with '.' skipped.
std::vector<HubDirEntry> ListHubDir(const std::string& dir) {
  std::vector<HubDirEntry> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    HubDirEntry item{e->d_name};
    struct stat st {};
    if (::stat(JoinPath(dir, item.name).c_str(), &st) != 0) {
      item.dangling = true;
    } else {
      item.is_dir = S_ISDIR(st.st_mode);
      item.is_file = S_ISREG(st.st_mode);
    }
    out.push_back(std::move(item));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

// "models--org--name" → "org/name" ("models--gpt2" → "gpt2").
std::string RepoIdOf(std::string_view dir_name) {
  std::string_view rest = dir_name.substr(std::string_view("models--").size());
  std::string out;
  size_t sep = 0;
  while ((sep = rest.find("--")) != std::string_view::npos) {
    out.append(rest.substr(0, sep)).append("/");
    rest.remove_prefix(sep + 2);
  }
  return out.append(rest);
}

// commit → the refs naming it ("main", "pr/1"), read from refs/ and its sub-folders.
void ReadRefs(const std::string& dir, const std::string& prefix, int depth,
              std::map<std::string, std::vector<std::string>>& out) {
  for (const HubDirEntry& e : ListHubDir(dir)) {
    const std::string path = JoinPath(dir, e.name);
    if (e.is_dir && depth < kMaxRefDepth) {
      ReadRefs(path, prefix + e.name + "/", depth + 1, out);
    } else if (e.is_file) {
      auto text = ReadWholeFile(path, kMaxRefBytes);
      if (!text.ok()) continue;
      std::string commit = *text;
      while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back())))
        commit.pop_back();
      if (!commit.empty()) out[commit].push_back(prefix + e.name);
    }
  }
}

// What a snapshot holds: its size (each blob once) and its files by kind.
struct SnapshotFiles {
  uint64_t size = 0;
  std::set<std::pair<dev_t, ino_t>> blobs;
  std::vector<std::string> root_safetensors, root_indexes, gguf, pytorch;
  bool has_config = false;
  bool has_adapter_config = false;
};

void CollectSnapshot(const std::string& dir, int depth, SnapshotFiles& s, ScanContext& ctx) {
  for (const HubDirEntry& e : ListHubDir(dir)) {
    const std::string path = JoinPath(dir, e.name);
    if (e.dangling) {
      ctx.Problem("hf_cache", path, "links to a missing blob (an interrupted download?)");
      continue;
    }
    if (e.is_dir) {
      if (depth < kMaxSnapshotDepth) CollectSnapshot(path, depth + 1, s, ctx);
      continue;
    }
    if (!e.is_file) continue;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    if (s.blobs.insert({st.st_dev, st.st_ino}).second) s.size += static_cast<uint64_t>(st.st_size);
    const bool root = depth == 0;
    if (root && e.name == "config.json") s.has_config = true;
    if (root && e.name == "adapter_config.json") s.has_adapter_config = true;
    if (root && EndsWithNoCase(e.name, ".safetensors")) s.root_safetensors.push_back(path);
    if (root && EndsWithNoCase(e.name, ".safetensors.index.json")) s.root_indexes.push_back(path);
    if (EndsWithNoCase(e.name, ".gguf")) s.gguf.push_back(path);
    if (EndsWithNoCase(e.name, ".bin") || EndsWithNoCase(e.name, ".pt") ||
        EndsWithNoCase(e.name, ".pth"))
      s.pytorch.push_back(path);
  }
}

// The snapshot's safetensors weights: the shards of its index, else its top-level files.
bool ApplySafetensors(const std::string& dir, const SnapshotFiles& s, mesh::ModelEntry& e,
                      ScanContext& ctx) {
  std::vector<std::string> files = s.root_safetensors;
  if (!s.root_indexes.empty()) {
    auto shards = ReadSafetensorsIndex(s.root_indexes.front());
    if (!shards.ok()) {
      ctx.Problem("hf_cache", s.root_indexes.front(), shards.status().message());
      return false;
    }
    files.clear();
    for (const auto& shard : *shards) files.push_back(JoinPath(dir, shard));
  }
  if (files.empty()) return false;
  SafetensorsSum sum;
  for (const auto& path : files) {
    auto facts = FileFactsOf(path, FileKind::kSafetensors, false, ctx);
    if (!facts.ok()) {
      ctx.Problem("hf_cache", path, facts.status().message());
      continue;
    }
    sum.Add(path, *facts);
  }
  sum.ApplyTo(e);
  return true;
}

// A snapshot of GGUF files only: one file describes the model; several are kept as one entry
// without details (docs/models.md).
void ApplyGguf(const SnapshotFiles& s, mesh::ModelEntry& e, ScanContext& ctx) {
  e.format = "gguf";
  if (s.gguf.size() != 1) return;
  auto facts = FileFactsOf(s.gguf.front(), FileKind::kGguf, false, ctx);
  if (!facts.ok()) {
    ctx.Problem("hf_cache", s.gguf.front(), facts.status().message());
    return;
  }
  const mesh::ModelEntry keep = e;
  e = std::move(*facts);
  e.id = keep.id;
  e.name = keep.name;
  e.source = keep.source;
  e.path = keep.path;
  e.revision = keep.revision;
  e.refs = keep.refs;
  e.size_bytes = keep.size_bytes;
  SetWeightsBytes(e.size_bytes, e);
}

void ApplyAdapterConfig(const std::string& dir, mesh::ModelEntry& e, ScanContext& ctx) {
  const std::string path = JoinPath(dir, "adapter_config.json");
  auto text = ReadWholeFile(path, kMaxModelJsonBytes);
  auto lora = text.ok() ? ReadAdapterConfig(*text) : Result<mesh::LoraInfo>(text.status());
  if (!lora.ok()) {
    ctx.Problem("hf_cache", path, lora.status().message());
    return;
  }
  e.lora = std::move(*lora);
}

void ScanSnapshot(const std::string& dir, const std::string& repo, const std::string& revision,
                  const std::vector<std::string>& refs, ScanContext& ctx) {
  SnapshotFiles s;
  CollectSnapshot(dir, 0, s, ctx);
  mesh::ModelEntry e;
  e.id = repo + "@" + revision;
  e.name = repo;
  e.source = mesh::ModelSource::kHfCache;
  e.path = dir;
  e.revision = revision;
  e.refs = refs;
  std::sort(e.refs.begin(), e.refs.end());
  e.size_bytes = s.size;
  if (ApplySafetensors(dir, s, e, ctx)) {
    // described by its safetensors headers
  } else if (!s.gguf.empty()) {
    ApplyGguf(s, e, ctx);
  } else if (!s.pytorch.empty()) {
    e.format = "pytorch";
    uint64_t bytes = 0;
    for (const auto& path : s.pytorch) {
      auto stamp = StampOf(path);
      if (stamp.ok()) bytes += stamp->size;
    }
    SetWeightsBytes(bytes, e);
  } else {
    e.format = "unknown";
    SetWeightsBytes(e.size_bytes, e);
  }
  if (s.has_config) ApplyConfigJsonIn(dir, "hf_cache", e, ctx);
  if (s.has_adapter_config) ApplyAdapterConfig(dir, e, ctx);
  ctx.entries.push_back(std::move(e));
}

}  // namespace

void ScanHfCache(const std::string& hub_dir, ScanContext& ctx) {
  struct stat st {};
  if (::stat(hub_dir.c_str(), &st) != 0) {
    if (errno != ENOENT) ctx.Problem("hf_cache", hub_dir, std::strerror(errno));
    return;
  }
  for (const HubDirEntry& repo_dir : ListHubDir(hub_dir)) {
    if (!repo_dir.is_dir || !repo_dir.name.starts_with("models--")) continue;
    const std::string repo_path = JoinPath(hub_dir, repo_dir.name);
    const std::string repo = RepoIdOf(repo_dir.name);
    std::map<std::string, std::vector<std::string>> refs;
    ReadRefs(JoinPath(repo_path, "refs"), "", 0, refs);
    const std::string snapshots = JoinPath(repo_path, "snapshots");
    for (const HubDirEntry& snap : ListHubDir(snapshots)) {
      if (!snap.is_dir) continue;
      ScanSnapshot(JoinPath(snapshots, snap.name), repo, snap.name, refs[snap.name], ctx);
    }
  }
}

}  // namespace populi::models::scan
