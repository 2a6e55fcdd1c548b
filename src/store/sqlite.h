// The embedded SQLite backend of MeshStore: the only header of store/sqlite/ other modules use
// (the rest of that folder is the backend's internals).
//
// Layout: `<directory>/mesh.db` (+ its -wal/-shm files) and `<directory>/mesh.db.lock`, held with
// flock for the store's lifetime so one process at a time owns the directory. Opening creates the
// directory's database if missing, runs forward-only migrations in one transaction, and refuses a
// database written by a newer binary.
//
// Writes go to one writer thread that drains every queued Write() into one transaction (group
// commit): each function runs inside its own SAVEPOINT, so a failing function rolls back only
// itself; the batch commits once (one fsync with Durability::kFull) and then every caller is
// completed. Reads use a pool of read-only WAL connections and never wait for the writer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::store {

inline constexpr char kSqliteFileName[] = "mesh.db";
inline constexpr char kSqliteLockFileName[] = "mesh.db.lock";

struct SqliteOptions {
  std::string directory;  // created if missing
  // kFull: synchronous=FULL (every acknowledged write survives power loss).
  // kBuffered: synchronous=NORMAL (survives a process crash; power loss may lose recent writes).
  Durability durability = Durability::kFull;
  // With kFull: flush the write-ahead log on a separate thread while the writer runs the next
  // batch (callers are still completed only once their commit is on disk). false flushes inside
  // every COMMIT (synchronous=FULL): only for comparison in benchmarks.
  bool overlap_flush = true;
  int busy_timeout_ms = 5'000;  // how long a connection waits on a lock held by a checkpoint
  int reader_pool_size = 4;     // read-only connections; readers beyond this wait for one
  // Most Write() calls committed in one transaction. 1 turns group commit off (one transaction
  // per write): only for comparison in benchmarks.
  int max_batch = 512;
  // Log length (4 KiB frames) past which a background thread copies the log into the database;
  // the writer itself never checkpoints.
  int checkpoint_frames = 1000;
  // Cap on the database size (0 = none). Writes past it fail with kStoreFull.
  int64_t max_size_bytes = 0;
};

Result<std::unique_ptr<MeshStore>> OpenSqliteStore(const SqliteOptions& options);

// The path of the database file in `directory`.
std::string SqliteDatabasePath(const std::string& directory);

// What `vox populi store repair` did, step by step.
struct RepairReport {
  std::string backup_path;
  std::vector<std::string> actions;  // one line per thing done, in order
  CheckReport before;
  CheckReport after;
};

// Repairs the store in `directory` (which must not be open elsewhere: takes the directory lock):
// copies the database aside first (`mesh.db.backup-<now_ms>`), then reindexes, requeues claimed
// messages without a claimer, restores missing or lagging fencing counters, revokes all but the
// newest of several live leases on one scope, and finally rebuilds the file via VACUUM INTO and
// swaps it in. No committed message, lease, event or kv row is deleted.
Result<RepairReport> RepairSqliteStore(const SqliteOptions& options, int64_t now_ms);

// A read-only look at the store in a directory that never disturbs a running control plane.
struct SqliteInspection {
  std::string database_path;
  bool exists = false;      // false: nothing else below is filled
  uint64_t size_bytes = 0;  // database plus its write-ahead log (recent writes live there)
  long holder_pid = -1;     // process holding the directory lock: -1 none, 0 unknown pid
  int schema_version = 0;
  // The full check (see MeshStore::Check), run only when no process holds the lock: a running
  // control plane's store is checked by the store itself.
  std::optional<CheckReport> check;
};

// Inspects `directory` read-only. Errors are those of opening the database (kStoreIo, with a
// hint) or of the check itself.
Result<SqliteInspection> InspectSqliteStore(const std::string& directory);

}  // namespace populi::store
