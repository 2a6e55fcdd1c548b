#include "models/scan/file_cache.h"

#include <algorithm>
#include <vector>

#include <boost/json.hpp>

#include "mesh/json.h"
#include "mesh/json_reader.h"
#include "mesh/models_json.h"

namespace populi::models::scan {
namespace {

namespace json = boost::json;

constexpr std::string_view kCacheHint =
    "the model file cache is rebuilt by the next scan; delete the file if this repeats";

Result<std::pair<std::string, FileFacts>> CacheRecordFromJson(const json::value& v,
                                                              const std::string& path) {
  const mesh::ReadOptions options{std::string(kCacheHint)};
  mesh::FieldReader r(v, path, options);
  std::string file;
  FileFacts facts;
  r.Str("path", file, true);
  r.U64("size", facts.stamp.size, true);
  r.Int("mtime_ns", facts.stamp.mtime_ns, INT64_MIN, INT64_MAX, true);
  r.Str("error", facts.error);
  if (const json::value* entry = r.Object("entry")) {
    auto decoded = mesh::ModelEntryFromJson(*entry, r.Path("entry"), options);
    if (!decoded.ok()) return decoded.status();
    facts.entry = std::move(*decoded);
  }
  if (!r.ok()) return r.status();
  return std::make_pair(std::move(file), std::move(facts));
}

}  // namespace

Status FileCache::Load(const std::string& path) {
  records_.clear();
  dirty_ = false;
  auto text = ReadWholeFile(path, kMaxFileBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return Status::Ok();
    return text.status();
  }
  auto doc = mesh::ParseJson(*text);
  if (!doc.ok()) return doc.status().WithContext(path);
  const mesh::ReadOptions options{std::string(kCacheHint)};
  mesh::FieldReader r(*doc, "", options);
  int64_t version = 0;
  r.Int("version", version, kFormatVersion, kFormatVersion, true);
  std::vector<std::pair<std::string, FileFacts>> files;
  r.List("files", files, CacheRecordFromJson, true);
  if (!r.ok()) return r.status().WithContext(path);
  for (auto& [file, facts] : files) records_[file] = Record{std::move(facts), false};
  return Status::Ok();
}

Status FileCache::Save(const std::string& path) {
  std::vector<const std::pair<const std::string, Record>*> sorted;
  sorted.reserve(records_.size());
  for (const auto& kv : records_) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  json::array files;
  for (const auto* kv : sorted) {
    const FileFacts& f = kv->second.facts;
    json::object o;
    o["path"] = kv->first;
    o["size"] = f.stamp.size;
    o["mtime_ns"] = f.stamp.mtime_ns;
    if (!f.error.empty()) o["error"] = f.error;
    if (f.entry) o["entry"] = mesh::ToJson(*f.entry);
    files.emplace_back(std::move(o));
  }
  json::object doc;
  doc["version"] = kFormatVersion;
  doc["files"] = std::move(files);
  POPULI_RETURN_IF_ERROR(WriteFileAtomically(path, json::serialize(doc)));
  dirty_ = false;
  return Status::Ok();
}

void FileCache::BeginScan() {
  for (auto& [path, record] : records_) record.used = false;
}

void FileCache::EndScan() {
  const size_t before = records_.size();
  std::erase_if(records_, [](const auto& kv) { return !kv.second.used; });
  if (records_.size() != before) dirty_ = true;
}

const FileFacts* FileCache::Find(const std::string& path, const FileStamp& stamp) {
  auto it = records_.find(path);
  if (it == records_.end() || !(it->second.facts.stamp == stamp)) return nullptr;
  it->second.used = true;
  return &it->second.facts;
}

void FileCache::Put(const std::string& path, FileFacts facts) {
  records_[path] = Record{std::move(facts), true};
  dirty_ = true;
}

}  // namespace populi::models::scan
