// Store-wide checks and statistics over one SQLite connection (reader or writer).
#pragma once

#include <string>

#include "store/mesh_store.h"
#include "store/sqlite/db.h"

namespace populi::store::sqlite {

// integrity_check, schema version, row envelope versions, one row per dedupe key, at most one
// live lease per scope key, fencing counters at or above every issued token with no token issued
// twice, and no orphaned claim state. Runs in one read transaction.
Result<CheckReport> RunCheck(Db& db);

Result<StoreStats> CollectStats(Db& db, const std::string& database_path);

// Deletes up to `batch` rows per table older than `cutoff_ms`: acked/dead-lettered messages,
// terminal leases, events, terminal tasks (by updated_ms) with all of their log chunks. Fencing
// counters are never deleted.
Result<RetentionResult> DeleteExpiredRows(Db& db, int64_t cutoff_ms, int batch);

}  // namespace populi::store::sqlite
