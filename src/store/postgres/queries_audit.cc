// Audit log reads on PostgreSQL (mesh/audit.h): entries by seq and the chain head kept in kv.
#include <string>

#include "store/postgres/queries.h"

namespace populi::store::postgres {
namespace {

constexpr char kAuditColumns[] = "seq, ts_ms, kind, actor, subject, data_json, prev_hash, hash";

mesh::AuditEntry ReadAuditRow(const Stmt& row) {
  mesh::AuditEntry e;
  e.seq = row.Int(0);
  e.ts_ms = row.Int(1);
  e.kind = row.Text(2);
  e.actor = row.Text(3);
  e.subject = row.Text(4);
  e.data_json = row.Text(5);
  e.prev_hash = row.Text(6);
  e.hash = row.Text(7);
  return e;
}

}  // namespace

Result<std::optional<mesh::AuditHead>> QueryAuditHead(Conn& db) {
  POPULI_ASSIGN_OR_RETURN(std::optional<std::string> value,
                          QueryKv(db, kAuditKvNamespace, kAuditHeadKey));
  if (!value) return std::optional<mesh::AuditHead>();
  std::optional<mesh::AuditHead> head = mesh::DecodeAuditHead(*value);
  if (!head) {
    return Status(Code::kStoreIo, "the audit chain head in the store does not parse",
                  "run `vox populi audit verify`; the audit log may have been tampered with");
  }
  return head;
}

Result<std::optional<mesh::AuditEntry>> QueryLastAudit(Conn& db) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(std::string("SELECT ") + kAuditColumns +
                                                " FROM audit_log ORDER BY seq DESC LIMIT 1"));
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<mesh::AuditEntry>();
  return std::optional<mesh::AuditEntry>(ReadAuditRow(stmt));
}

Result<std::vector<mesh::AuditEntry>> QueryAuditEntries(Conn& db, int64_t after_seq,
                                                        int64_t limit) {
  if (limit <= 0) return InvalidArgument("audit limit must be positive", "pass limit >= 1");
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db.Prepare(std::string("SELECT ") + kAuditColumns +
                                     " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"));
  stmt.Bind(1, after_seq).Bind(2, limit);
  std::vector<mesh::AuditEntry> entries;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    entries.push_back(ReadAuditRow(stmt));
  }
  return entries;
}

Result<mesh::AuditPage> QueryAuditPage(Conn& db, int64_t after_seq, int limit) {
  if (limit <= 0) return InvalidArgument("audit limit must be positive", "pass limit >= 1");
  // One snapshot for the head and the entries.
  POPULI_RETURN_IF_ERROR(db.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto read = [&]() -> Result<mesh::AuditPage> {
    mesh::AuditPage page;
    POPULI_ASSIGN_OR_RETURN(page.head, QueryAuditHead(db));
    POPULI_ASSIGN_OR_RETURN(page.entries, QueryAuditEntries(db, after_seq, limit));
    return page;
  };
  Result<mesh::AuditPage> page = read();
  (void)db.Exec(page.ok() ? "COMMIT" : "ROLLBACK");
  return page;
}

}  // namespace populi::store::postgres
