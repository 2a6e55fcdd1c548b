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

#include <cstdint>
#include <memory>
#include <optional>
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

// Where `dsn` points, as "host=H port=P" with libpq's defaults (PGHOST, PGPORT, the local socket,
// 5432) for what it leaves out; never the password. Empty when it does not parse.
std::string PostgresServerAddress(std::string_view dsn);

// What `vox doctor` and the store verbs learn about a PostgreSQL store without changing anything:
// no schema is created and nothing is migrated.
struct PostgresInspection {
  std::string location;           // the DSN without its password, and the schema
  int server_version_num = 0;     // e.g. 150004
  std::string server_version;     // e.g. "15.4"
  int schema_version = 0;         // the store's; 0 when the schema holds none
  int binary_schema_version = 0;  // the version this binary migrates a store to
  bool in_recovery = false;       // the server is a standby (pg_is_in_recovery())
  // A standby's now() - pg_last_xact_replay_timestamp(); nullopt when it replayed nothing yet.
  std::optional<int64_t> replay_lag_ms;
  // A standby that replayed all the log it received: its replay lag then only grows because the
  // primary committed nothing since.
  bool replay_caught_up = false;
};

// Connects to options.dsn (giving up after `connect_timeout_s` seconds) and reads the above.
// kUnavailable when the server cannot be reached, kInvalidArgument for a DSN that does not parse;
// neither quotes the password.
Result<PostgresInspection> InspectPostgresStore(const PostgresOptions& options,
                                                int connect_timeout_s);

}  // namespace populi::store
