// Forward-only schema migrations of the PostgreSQL backend, recorded in schema_migrations.
#pragma once

#include <string>

#include "store/postgres/conn.h"
#include "util/status.h"

namespace populi::store::postgres {

int LatestSchemaVersion();
// The version recorded in the connection's schema (0 for an empty one).
Result<int> ReadSchemaVersion(Conn& conn);
// Creates `schema` when missing and brings it to LatestSchemaVersion() in one transaction, under
// an advisory lock so that replicas opening at once migrate one after the other. Refuses a schema
// newer than this binary (kFailedPrecondition).
Status Migrate(Conn& conn, const std::string& schema, const std::string& location, int64_t now_ms);

}  // namespace populi::store::postgres
