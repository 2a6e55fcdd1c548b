// What the scanners learned about each model file, keyed by (path, size, mtime): the content
// hash (the file's identity) and the header's facts, so a file is hashed and parsed once, not
// on every poll. Kept in memory by the InventoryBuilder and, when it has a path, in a small JSON
// file under the node's data directory so a restart does not re-hash every model.
//
// Bounded: EndScan drops every record the last scan did not use, so the cache holds only files
// that exist in the configured directories.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

#include "mesh/models.h"
#include "models/scan/files.h"
#include "util/status.h"

namespace populi::models::scan {

struct FileFacts {
  FileStamp stamp;
  // What the file's header says, with id "sha256:<hex of the file>"; absent when it could not
  // be read as a model (then `error` says why, and the file is not re-read until it changes).
  std::optional<mesh::ModelEntry> entry;
  std::string error;
};

class FileCache {
 public:
  static constexpr int kFormatVersion = 1;
  static constexpr uint64_t kMaxFileBytes = 64ull << 20;

  // Replaces the records with those in `path`. A missing file is an empty cache; an unreadable
  // or malformed one leaves the cache empty and says why (it is rewritten by the next Save).
  Status Load(const std::string& path);
  // Writes every record to `path` atomically.
  Status Save(const std::string& path);

  // Starts a scan: records that the scan does not Find or Put are dropped by EndScan.
  void BeginScan();
  void EndScan();

  // The facts recorded for `path` at `stamp` (marked used), or nullptr when there are none for
  // that stamp.
  const FileFacts* Find(const std::string& path, const FileStamp& stamp);
  // Records facts for `path` (marked used).
  void Put(const std::string& path, FileFacts facts);

  // Whether records changed since the last Load or Save.
  bool dirty() const { return dirty_; }
  size_t size() const { return records_.size(); }

 private:
  struct Record {
    FileFacts facts;
    bool used = false;
  };
  std::unordered_map<std::string, Record> records_;
  bool dirty_ = false;
};

}  // namespace populi::models::scan
