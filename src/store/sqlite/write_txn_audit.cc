// The audit log's append on the writer connection (mesh/audit.h, docs/audit.md).
#include <string>
#include <vector>

#include "store/audit_append.h"
#include "store/restore_rules.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/write_txn.h"

namespace populi::store::sqlite {
namespace {

// Inserts one entry; with `ignore_existing` (restore) an entry whose seq is stored already is
// skipped rather than failing. Returns whether a row was written.
Result<bool> InsertAuditRow(Db& db, const mesh::AuditEntry& e, bool ignore_existing) {
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
  return db.Changes() > 0;
}

}  // namespace

Result<mesh::AuditEntry> SqliteWriteTxn::AppendAudit(const mesh::AuditRecord& record) {
  // Reads inside the transaction see the writes of earlier functions of the same batch, so
  // concurrent appends chain in commit order.
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
Result<bool> SqliteWriteTxn::ImportAudit(const mesh::AuditEntry& entry) {
  POPULI_RETURN_IF_ERROR(ValidateImportedAudit(entry));
  return InsertAuditRow(db_, entry, /*ignore_existing=*/true);
}

}  // namespace populi::store::sqlite
