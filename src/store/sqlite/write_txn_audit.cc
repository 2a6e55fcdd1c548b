// The audit log's append on the writer connection (mesh/audit.h, docs/audit.md).
#include <string>

#include <boost/json.hpp>

#include "store/sqlite/queries.h"
#include "store/sqlite/write_txn.h"

namespace populi::store::sqlite {
namespace {

Status InsertAuditRow(Db& db, const mesh::AuditEntry& e) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare("INSERT INTO audit_log(seq, ts_ms, kind, actor, subject, data_json, "
                            "prev_hash, hash, schema_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, e.seq)
      .Bind(2, e.ts_ms)
      .Bind(3, e.kind)
      .Bind(4, e.actor)
      .Bind(5, e.subject)
      .Bind(6, e.data_json)
      .Bind(7, e.prev_hash)
      .Bind(8, e.hash)
      .Bind(9, int64_t{mesh::kRecordSchemaVersion});
  return stmt.Run();
}

}  // namespace

Result<mesh::AuditEntry> SqliteWriteTxn::AppendAudit(const mesh::AuditRecord& record) {
  if (record.kind.empty()) {
    return InvalidArgument("audit entry kind is empty", "e.g. \"auth.failed\"");
  }
  // Reads inside the transaction see the writes of earlier functions of the same batch, so
  // concurrent appends chain in commit order.
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::AuditEntry> last, QueryLastAudit(db_));
  Result<std::optional<mesh::AuditHead>> stored = QueryAuditHead(db_);
  std::optional<mesh::AuditHead> head;
  if (last) head = mesh::AuditHead{last->seq, last->hash};
  const bool head_ok =
      stored.ok() && ((!*stored && !last) || (*stored && last && (*stored)->seq == last->seq &&
                                              (*stored)->hash == last->hash));
  if (!head_ok) {
    // The log and its head disagree: say so in the chain itself and carry on from the newest
    // entry, so that audited actions keep working (the damage stays visible to verify).
    const std::string stored_text = !stored.ok() ? "unreadable"
                                    : *stored    ? mesh::EncodeAuditHead(**stored)
                                                 : "absent";
    mesh::AuditRecord note{
        record.ts_ms, std::string(mesh::kAuditHeadMismatchKind), "control-plane", "audit",
        boost::json::serialize(boost::json::object{{"stored_head", stored_text},
                                                   {"newest_seq", last ? last->seq : int64_t{0}}})};
    mesh::AuditEntry marker = mesh::ChainAuditEntry(head, note);
    POPULI_RETURN_IF_ERROR(InsertAuditRow(db_, marker));
    head = mesh::AuditHead{marker.seq, marker.hash};
  }
  mesh::AuditEntry entry = mesh::ChainAuditEntry(head, record);
  POPULI_RETURN_IF_ERROR(InsertAuditRow(db_, entry));
  POPULI_RETURN_IF_ERROR(
      PutKv(kAuditKvNamespace, kAuditHeadKey, mesh::EncodeAuditHead({entry.seq, entry.hash})));
  return entry;
}

}  // namespace populi::store::sqlite
