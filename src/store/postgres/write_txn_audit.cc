// The audit log on PostgreSQL (mesh/audit.h, docs/audit.md): the same chain as on SQLite. Several
// replicas may append at once, so an append first takes one advisory lock held to the end of its
// transaction: the newest entry it reads is the newest committed, and the chain stays one line.
#include <string>
#include <vector>

#include "store/audit_append.h"
#include "store/postgres/queries.h"
#include "store/postgres/write_txn.h"
#include "store/restore_rules.h"

namespace populi::store::postgres {
namespace {

// Inserts one entry; with `ignore_existing` (restore) an entry whose seq is stored already is
// skipped rather than failing. Returns whether a row was written.
Result<bool> InsertAuditRow(Conn& db, const mesh::AuditEntry& e, bool ignore_existing) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare(
          std::string("INSERT INTO audit_log(seq, ts_ms, kind, actor, subject, data_json, "
                      "prev_hash, hash, schema_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)") +
          (ignore_existing ? " ON CONFLICT(seq) DO NOTHING" : "")));
  stmt.Bind(1, e.seq)
      .Bind(2, e.ts_ms)
      .Bind(3, e.kind)
      .Bind(4, e.actor)
      .Bind(5, e.subject)
      .Bind(6, e.data_json)
      .Bind(7, e.prev_hash)
      .Bind(8, e.hash)
      .Bind(9, int64_t{mesh::kRecordSchemaVersion});
  POPULI_RETURN_IF_ERROR(stmt.Run());
  return stmt.Changes() > 0;
}

}  // namespace

Result<mesh::AuditEntry> PgWriteTxn::AppendAudit(const mesh::AuditRecord& record) {
  POPULI_RETURN_IF_ERROR(
      db_.Exec("SELECT pg_advisory_xact_lock(hashtextextended('populi.audit', 11))"));
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::AuditEntry> last, QueryLastAudit(db_));
  POPULI_ASSIGN_OR_RETURN(std::vector<mesh::AuditEntry> entries,
                          AuditEntriesToAppend(record, last, QueryAuditHead(db_)));
  for (const mesh::AuditEntry& e : entries) {
    POPULI_RETURN_IF_ERROR(InsertAuditRow(db_, e, /*ignore_existing=*/false).status());
  }
  const mesh::AuditEntry& entry = entries.back();
  POPULI_RETURN_IF_ERROR(
      PutKv(kAuditKvNamespace, kAuditHeadKey, mesh::EncodeAuditHead({entry.seq, entry.hash})));
  return entry;
}

// Restore (store/transfer.h): an entry already stored is kept as it is.
Result<bool> PgWriteTxn::ImportAudit(const mesh::AuditEntry& entry) {
  POPULI_RETURN_IF_ERROR(ValidateImportedAudit(entry));
  return InsertAuditRow(db_, entry, /*ignore_existing=*/true);
}

}  // namespace populi::store::postgres
