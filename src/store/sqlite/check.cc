#include "store/sqlite/check.h"

#include <sys/stat.h>

#include <string>
#include <utility>

#include "mesh/audit.h"
#include "mesh/types.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/schema.h"

namespace populi::store::sqlite {
namespace {

// Every table Stats() counts; the same list, in the same order, on PostgreSQL.
constexpr const char* kTables[] = {"nodes", "messages", "exec_leases", "fencing_counters", "events",
                                   "kv",    "tasks",    "task_logs",   "audit_log",        "roles"};

// One invariant: `count_sql` counts violations; zero passes.
struct Invariant {
  const char* name;
  const char* count_sql;
  const char* what;  // what a violation is, for the detail line
};

constexpr Invariant kInvariants[] = {
    {"one_row_per_dedupe_key",
     "SELECT count(*) FROM (SELECT 1 FROM messages WHERE idempotency_key <> '' "
     "GROUP BY sender, receiver, idempotency_key HAVING count(*) > 1)",
     "idempotency keys held by more than one message"},
    {"one_live_lease_per_scope",
     "SELECT count(*) FROM (SELECT 1 FROM exec_leases WHERE state IN ('granted', 'renewed') "
     "GROUP BY scope_key HAVING count(*) > 1)",
     "scope keys with more than one live lease"},
    {"fencing_counter_covers_tokens",
     "SELECT count(*) FROM (SELECT scope_key, max(fencing_token) AS top FROM exec_leases "
     "GROUP BY scope_key) AS l LEFT JOIN fencing_counters AS c USING (scope_key) "
     "WHERE c.last_token IS NULL OR c.last_token < l.top",
     "scope keys whose fencing counter is missing or behind an issued token"},
    {"fencing_tokens_unique",
     "SELECT count(*) FROM (SELECT 1 FROM exec_leases GROUP BY scope_key, fencing_token "
     "HAVING count(*) > 1)",
     "fencing tokens issued twice on one scope key"},
    {"no_orphan_claims",
     "SELECT count(*) FROM messages WHERE (state = 'claimed' AND (claimer_node_id = '' OR "
     "claim_expires_ms = 0)) OR (state <> 'claimed' AND (claimer_node_id <> '' OR "
     "claim_expires_ms <> 0 OR claim_token <> ''))",
     // A pending row with a future claim expiry is invisible to claims (they skip rows whose
     // expiry lies ahead), so it would wait forever.
     "messages whose claim state is inconsistent"},
    {"known_states",
     "SELECT (SELECT count(*) FROM messages WHERE state NOT IN ('pending', 'claimed', 'acked', "
     "'dead_letter')) + (SELECT count(*) FROM exec_leases WHERE state NOT IN ('granted', "
     "'renewed', 'expired', 'revoked', 'released', 'completed'))",
     "rows in an unknown state"},
    {"ended_leases_have_end_time",
     "SELECT count(*) FROM exec_leases WHERE state NOT IN ('granted', 'renewed') AND "
     "ended_ms = 0",
     "terminal leases without an end time"},
    {"known_task_states",
     "SELECT count(*) FROM tasks WHERE state NOT IN ('pending', 'placed', 'running', "
     "'succeeded', 'failed', 'cancelled')",
     "tasks in an unknown state"},
    {"no_orphan_task_logs",
     "SELECT count(*) FROM task_logs WHERE task_id NOT IN (SELECT id FROM tasks)",
     "task log chunks whose task is gone"},
};

Result<int64_t> CountBadEnvelopes(Db& db) {
  int64_t bad = 0;
  for (const char* table : kTables) {
    // These two rows carry no envelope version.
    if (std::string(table) == "fencing_counters" || std::string(table) == "roles") continue;
    POPULI_ASSIGN_OR_RETURN(int64_t n,
                            db.QueryInt(std::string("SELECT count(*) FROM ") + table +
                                        " WHERE schema_version < 1 OR schema_version > " +
                                        std::to_string(mesh::kRecordSchemaVersion)));
    bad += n;
  }
  return bad;
}

// The audit log's hash chain against its head (docs/audit.md): tampering happens on disk, so
// the offline check verifies it too.
Result<CheckItem> CheckAuditChain(Db& db) {
  POPULI_ASSIGN_OR_RETURN(std::vector<mesh::AuditEntry> entries,
                          QueryAuditEntries(db, 0, INT64_MAX));
  Result<std::optional<mesh::AuditHead>> head = QueryAuditHead(db);
  if (!head.ok()) return CheckItem{"audit_chain", false, head.status().message()};
  const mesh::AuditVerdict verdict = mesh::VerifyAuditChain(entries, *head);
  if (verdict.ok) return CheckItem{"audit_chain", true, verdict.detail};
  return CheckItem{"audit_chain", false,
                   std::string(mesh::ToString(verdict.damage)) + " at position " +
                       std::to_string(verdict.position) + ": " + verdict.detail};
}

Result<CheckReport> RunChecks(Db& db) {
  CheckReport report;
  {
    POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("PRAGMA integrity_check"));
    CheckItem item{"integrity_check", true, "ok"};
    std::string problems;
    while (true) {
      POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      const std::string line = stmt.Text(0);
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    }
    if (!problems.empty()) item = {"integrity_check", false, problems};
    report.items.push_back(std::move(item));
  }
  POPULI_ASSIGN_OR_RETURN(report.schema_version, ReadSchemaVersion(db));
  const bool version_ok = report.schema_version == LatestSchemaVersion();
  report.items.push_back({"schema_version", version_ok,
                          "database " + std::to_string(report.schema_version) + ", binary " +
                              std::to_string(LatestSchemaVersion())});
  POPULI_ASSIGN_OR_RETURN(int64_t bad_envelopes, CountBadEnvelopes(db));
  report.items.push_back(
      {"row_schema_versions", bad_envelopes == 0,
       std::to_string(bad_envelopes) + " rows with an unknown envelope version"});
  for (const Invariant& invariant : kInvariants) {
    POPULI_ASSIGN_OR_RETURN(int64_t violations, db.QueryInt(invariant.count_sql));
    report.items.push_back(
        {invariant.name, violations == 0, std::to_string(violations) + " " + invariant.what});
  }
  POPULI_ASSIGN_OR_RETURN(CheckItem audit, CheckAuditChain(db));
  report.items.push_back(std::move(audit));
  for (const CheckItem& item : report.items) report.ok = report.ok && item.ok;
  return report;
}

}  // namespace

Result<CheckReport> RunCheck(Db& db) {
  POPULI_RETURN_IF_ERROR(db.Exec("BEGIN"));
  Result<CheckReport> report = RunChecks(db);
  (void)db.Exec("COMMIT");
  return report;
}

Result<StoreStats> CollectStats(Db& db, const std::string& database_path) {
  StoreStats stats;
  stats.backend = "sqlite";
  stats.location = database_path;
  POPULI_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto collect = [&]() -> Status {
    POPULI_ASSIGN_OR_RETURN(stats.schema_version, ReadSchemaVersion(db));
    POPULI_ASSIGN_OR_RETURN(int64_t pages, db.QueryInt("PRAGMA page_count"));
    POPULI_ASSIGN_OR_RETURN(int64_t page_size, db.QueryInt("PRAGMA page_size"));
    stats.size_bytes = pages * page_size;
    struct stat wal {};
    if (::stat((database_path + "-wal").c_str(), &wal) == 0) stats.size_bytes += wal.st_size;
    for (const char* table : kTables) {
      POPULI_ASSIGN_OR_RETURN(int64_t rows,
                              db.QueryInt(std::string("SELECT count(*) FROM ") + table));
      stats.row_counts.emplace_back(table, rows);
    }
    return Status::Ok();
  };
  Status status = collect();
  (void)db.Exec("COMMIT");
  POPULI_RETURN_IF_ERROR(status);
  return stats;
}

Result<RetentionResult> DeleteExpiredRows(Db& db, int64_t cutoff_ms, int batch) {
  if (batch <= 0)
    return InvalidArgument("retention batch must be positive", "pass a batch size of at least 1");
  RetentionResult result;
  struct Target {
    const char* sql;
    int64_t* deleted;
  };
  const Target targets[] = {
      {"DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE state IN ('acked', "
       "'dead_letter') AND finished_ms < ?1 ORDER BY finished_ms LIMIT ?2)",
       &result.messages_deleted},
      {"DELETE FROM exec_leases WHERE lease_id IN (SELECT lease_id FROM exec_leases WHERE "
       "ended_ms > 0 AND ended_ms < ?1 ORDER BY ended_ms LIMIT ?2)",
       &result.leases_deleted},
      {"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts_ms < ?1 ORDER BY ts_ms "
       "LIMIT ?2)",
       &result.events_deleted},
      // A task's logs go with it: both statements pick the same tasks (same query, same
      // transaction), the logs first.
      {"DELETE FROM task_logs WHERE task_id IN (SELECT id FROM tasks WHERE state IN "
       "('succeeded', 'failed', 'cancelled') AND updated_ms < ?1 ORDER BY updated_ms, id "
       "LIMIT ?2)",
       &result.task_logs_deleted},
      {"DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE state IN "
       "('succeeded', 'failed', 'cancelled') AND updated_ms < ?1 ORDER BY updated_ms, id "
       "LIMIT ?2)",
       &result.tasks_deleted},
  };
  for (const Target& target : targets) {
    POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(target.sql));
    stmt.Bind(1, cutoff_ms).Bind(2, int64_t{batch});
    POPULI_RETURN_IF_ERROR(stmt.Run());
    *target.deleted = db.Changes();
  }
  return result;
}

}  // namespace populi::store::sqlite
