// Store-wide checks, statistics and retention of the PostgreSQL backend.
#pragma once

#include <string>

#include "store/mesh_store.h"
#include "store/postgres/conn.h"

namespace populi::store::postgres {

// Schema version, row envelope versions, one row per dedupe key, at most one live lease per
// scope key, fencing counters at or above every issued token with no token issued twice, no
// orphaned claim state, and the audit log's hash chain against its head. Runs in one read-only
// snapshot.
Result<CheckReport> RunCheck(Conn& conn);
// `location` is the redacted DSN and schema.
Result<StoreStats> CollectStats(Conn& conn, const std::string& location);
// Deletes up to `batch` rows per table older than `cutoff_ms` (as the SQLite backend does).
// Fencing counters are never deleted.
Result<RetentionResult> DeleteExpiredRows(Conn& conn, int64_t cutoff_ms, int batch);

}  // namespace populi::store::postgres
