// `vox populi store repair`: back up, fix what can be fixed without deleting a committed row,
// rebuild into a fresh file.
#include <filesystem>
#include <string>

#include "store/sqlite.h"
#include "store/sqlite/check.h"
#include "store/sqlite/db.h"
#include "store/sqlite/dir_lock.h"
#include "store/sqlite/schema.h"

namespace populi::store {
namespace {

namespace fs = std::filesystem;
using sqlite::Db;

struct Fix {
  const char* sql;
  const char* done;  // "<n> <done>" goes in the report when n > 0
};

// Data fixes run before REINDEX: a corrupt unique index may hide duplicates that would make
// REINDEX fail.
constexpr Fix kFixes[] = {
    {"UPDATE messages SET state = 'pending', claimer_node_id = '', claim_expires_ms = 0, "
     "claim_token = '' WHERE state = 'claimed' AND (claimer_node_id = '' OR claim_expires_ms = 0)",
     "claimed messages without a claimer returned to pending"},
    {"UPDATE messages SET claimer_node_id = '', claim_expires_ms = 0, claim_token = '' "
     "WHERE state <> 'claimed' AND (claimer_node_id <> '' OR claim_expires_ms <> 0 OR "
     "claim_token <> '')",
     "stale claim fields cleared on unclaimed messages"},
    {"UPDATE messages SET idempotency_key = '' WHERE idempotency_key <> '' AND id NOT IN "
     "(SELECT min(id) FROM messages WHERE idempotency_key <> '' "
     "GROUP BY sender, receiver, idempotency_key)",
     "later duplicates of an idempotency key lost the key (rows kept)"},
    {"UPDATE exec_leases SET state = 'revoked', ended_ms = ?1 WHERE state IN ('granted', "
     "'renewed') AND fencing_token < (SELECT max(l.fencing_token) FROM exec_leases AS l WHERE "
     "l.scope_key = exec_leases.scope_key AND l.state IN ('granted', 'renewed'))",
     "older live leases on a scope with several live leases revoked"},
    {"UPDATE exec_leases SET ended_ms = ?1 WHERE state NOT IN ('granted', 'renewed') AND "
     "ended_ms = 0",
     "terminal leases given an end time"},
    {"INSERT INTO fencing_counters(scope_key, last_token) SELECT scope_key, max(fencing_token) "
     "FROM exec_leases WHERE true GROUP BY scope_key ON CONFLICT(scope_key) DO UPDATE SET "
     "last_token = max(last_token, excluded.last_token) WHERE excluded.last_token > last_token",
     "fencing counters restored or raised to the highest issued token"},
};

Status ApplyFixes(Db& db, int64_t now_ms, RepairReport& report) {
  POPULI_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  for (const Fix& fix : kFixes) {
    Result<sqlite::Stmt> stmt = db.Prepare(fix.sql);
    Status status = stmt.ok() ? stmt->Bind(1, now_ms).Run() : stmt.status();
    if (!status.ok()) {
      (void)db.Exec("ROLLBACK");
      return status;
    }
    if (db.Changes() > 0) report.actions.push_back(std::to_string(db.Changes()) + " " + fix.done);
  }
  return db.Exec("COMMIT");
}

}  // namespace

Result<RepairReport> RepairSqliteStore(const SqliteOptions& options, int64_t now_ms) {
  const std::string db_path = SqliteDatabasePath(options.directory);
  std::error_code ec;
  if (!fs::exists(db_path, ec)) {
    return NotFound("no store at " + db_path, "check --data-dir");
  }
  POPULI_ASSIGN_OR_RETURN(
      std::unique_ptr<sqlite::DirLock> lock,
      sqlite::DirLock::Acquire((fs::path(options.directory) / kSqliteLockFileName).string(),
                               options.directory));
  RepairReport report;
  const std::string rebuilt = db_path + ".rebuild";
  {
    POPULI_ASSIGN_OR_RETURN(std::unique_ptr<Db> db,
                            Db::Open(db_path, false, false, options.busy_timeout_ms));
    POPULI_RETURN_IF_ERROR(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    report.backup_path = db_path + ".backup-" + std::to_string(now_ms);
    fs::copy_file(db_path, report.backup_path, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      return Status(Code::kStoreIo, "copy store to " + report.backup_path + ": " + ec.message(),
                    "free disk space; nothing was changed");
    }
    report.actions.push_back("copied " + db_path + " to " + report.backup_path);
    POPULI_RETURN_IF_ERROR(sqlite::Migrate(*db, db_path, now_ms));
    POPULI_ASSIGN_OR_RETURN(report.before, sqlite::RunCheck(*db));
    POPULI_RETURN_IF_ERROR(ApplyFixes(*db, now_ms, report));
    POPULI_RETURN_IF_ERROR(db->Exec("REINDEX"));
    report.actions.push_back("rebuilt every index (REINDEX)");
    fs::remove(rebuilt, ec);
    POPULI_ASSIGN_OR_RETURN(sqlite::Stmt vacuum, db->Prepare("VACUUM INTO ?"));
    POPULI_RETURN_IF_ERROR(vacuum.Bind(1, rebuilt).Run());
  }
  // The old connection is closed (its WAL checkpointed and removed); swap the fresh file in.
  fs::remove(db_path + "-wal", ec);
  fs::remove(db_path + "-shm", ec);
  fs::rename(rebuilt, db_path, ec);
  if (ec) {
    return Status(Code::kStoreIo, "replace " + db_path + ": " + ec.message(),
                  "restore " + report.backup_path + " by hand");
  }
  report.actions.push_back(
      "rebuilt the database into a fresh file (VACUUM INTO) and swapped it in");
  POPULI_ASSIGN_OR_RETURN(std::unique_ptr<Db> db,
                          Db::Open(db_path, false, false, options.busy_timeout_ms));
  POPULI_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  POPULI_ASSIGN_OR_RETURN(report.after, sqlite::RunCheck(*db));
  return report;
}

}  // namespace populi::store
