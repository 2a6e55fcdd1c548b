// Import of the earlier version's JSON stores (`a2a-store.json`, `exec-lease-store.json`) into a
// MeshStore, and the start-up guard that refuses a data directory holding only those files.
//
// Both files are read and validated completely before anything is written; the import is one
// Write() (all or nothing); only then are the inputs renamed to `<name>.migrated`. Records whose
// id already exists are skipped, so an import interrupted between the commit and the renames is
// safe to run again, and a second run after a complete one finds nothing to do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::store {

inline constexpr char kLegacyA2aFile[] = "a2a-store.json";
inline constexpr char kLegacyLeaseFile[] = "exec-lease-store.json";

struct LegacyImportReport {
  int64_t messages_imported = 0;
  int64_t messages_skipped = 0;  // already present (an earlier run)
  int64_t leases_imported = 0;
  int64_t leases_skipped = 0;
  std::vector<std::string> renamed;  // input files renamed to *.migrated
  std::vector<std::string> notes;    // what was adjusted on the way (expired leases, ...)
};

// Legacy exec lease ids are decimal counters; they become 32 lowercase hex digits (the decimal
// value, zero-padded), so a holder's id maps the same way on every run.
std::string LegacyLeaseId(uint64_t legacy_id);

// Imports the legacy files found in `from_dir` (either may be absent; neither present is ok and
// imports nothing). kInvalidArgument names the file, the record index and the field on bad input.
Result<LegacyImportReport> ImportLegacyJson(MeshStore& store, const std::string& from_dir,
                                            int64_t now_ms);

// kFailedPrecondition when `data_dir` holds a legacy JSON store but no SQLite store, naming the
// migrate command to run. Ok otherwise (including an empty or missing directory).
Status RefuseLegacyOnlyDir(const std::string& data_dir);

}  // namespace populi::store
