// The SQLite schema and its forward-only migrations.
//
// Version 1 holds nodes, messages, exec leases with per-scope fencing counters, events and kv.
// Tasks and attempts arrive as later migrations appended to the list in schema.cc; a migration is
// never edited once released. Every row carries `schema_version` (the envelope version of
// mesh::kRecordSchemaVersion at the time it was written).
#pragma once

#include "store/sqlite/db.h"
#include "util/status.h"

namespace populi::store::sqlite {

// The newest schema version this binary knows.
int LatestSchemaVersion();

// The version recorded in the database (0 for a fresh file).
Result<int> ReadSchemaVersion(Db& db);

// Brings the schema up to LatestSchemaVersion() in one transaction. A database whose version is
// newer than this binary's is refused with kFailedPrecondition (`location` names it in the
// message) and left untouched.
Status Migrate(Db& db, const std::string& location, int64_t now_ms);

}  // namespace populi::store::sqlite
