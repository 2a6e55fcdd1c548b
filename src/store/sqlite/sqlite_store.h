// The embedded SQLite backend of MeshStore.
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

}  // namespace populi::store
