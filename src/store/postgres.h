// The PostgreSQL backend of MeshStore: the only header of store/postgres/ other modules use (the
// rest of that folder, and libpq, are the backend's internals).
//
// Same contract as the SQLite backend (store/mesh_store.h): one writer connection runs every
// queued Write() in one transaction, each in its own SAVEPOINT, and commits once for the batch
// (synchronous_commit = on), completing callers only after COMMIT returned; reads use their own
// connections. Opening runs the forward-only migrations under an advisory lock (so replicas that
// start together migrate once) and refuses a schema written by a newer binary.
//
// Several stores (control-plane replicas) may share one database: lease grants serialize per
// scope on a transaction-scoped advisory lock, a partial unique index allows one live lease per
// scope, the fencing counter row is updated in place (its row lock orders tokens), claims skip
// rows another transaction holds (FOR UPDATE SKIP LOCKED), and CountPending reads the table.
// Their waiters hear of each other's writes through topics() (LISTEN/NOTIFY on one more
// connection per store, opened with the others).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::store {

struct PostgresOptions {
  // libpq connection string ("host=… port=… dbname=… user=…" or postgresql://…). May carry a
  // password: never log it as is (RedactPostgresDsn).
  std::string dsn;
  // The schema holding the store's tables (created when missing). One database can hold several
  // independent stores under different schemas.
  std::string schema = "populi";
  int reader_pool_size = 4;  // read connections; readers beyond this wait for one
  // Most Write() calls committed in one transaction (1 turns group commit off).
  int max_batch = 512;
};

Result<std::unique_ptr<MeshStore>> OpenPostgresStore(const PostgresOptions& options);

// `dsn` with the value of any password (key=value or URL form) replaced by "***": what logs,
// errors and `store stats` show.
std::string RedactPostgresDsn(std::string_view dsn);

}  // namespace populi::store
