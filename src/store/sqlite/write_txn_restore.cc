// The restore path beyond messages, leases and audit entries (store copies, store/transfer.h):
// events, task log chunks, roles, fencing counters and the id sequences, inserted as they were.
#include <string>

#include "store/restore_rules.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/write_txn.h"

namespace populi::store::sqlite {
namespace {

// True when `sql` (one `?` parameter for the key) finds a row.
Result<bool> RestoreRowExists(Db& db, const std::string& sql, int64_t key) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
  stmt.Bind(1, key);
  return stmt.Step();
}

// Raises the AUTOINCREMENT counter of `table` so that its next id is above `at_least`.
Status RaiseAutoincrement(Db& db, std::string_view table, int64_t at_least) {
  if (at_least < 1) return Status::Ok();
  POPULI_ASSIGN_OR_RETURN(Stmt insert,
                          db.Prepare("INSERT INTO sqlite_sequence(name, seq) SELECT ?1, 0 WHERE "
                                     "NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)"));
  insert.Bind(1, table);
  POPULI_RETURN_IF_ERROR(insert.Run());
  POPULI_ASSIGN_OR_RETURN(
      Stmt raise, db.Prepare("UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1"));
  raise.Bind(1, table).Bind(2, at_least);
  return raise.Run();
}

}  // namespace

Status SqliteWriteTxn::ImportFencingCounter(const FencingCounter& counter) {
  POPULI_RETURN_IF_ERROR(ValidateImportedCounter(counter));
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare("INSERT INTO fencing_counters(scope_key, last_token) VALUES (?1, ?2) "
                  "ON CONFLICT(scope_key) DO UPDATE SET last_token = max(last_token, ?2)"));
  stmt.Bind(1, counter.scope_key).Bind(2, counter.last_token);
  return stmt.Run();
}

Result<bool> SqliteWriteTxn::ImportEvent(const mesh::Event& event) {
  POPULI_RETURN_IF_ERROR(ValidateImportedEvent(event));
  POPULI_ASSIGN_OR_RETURN(bool exists,
                          RestoreRowExists(db_, "SELECT 1 FROM events WHERE id = ?", event.id));
  if (exists) return false;
  // An explicit id moves the AUTOINCREMENT counter up with it.
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db_.Prepare("INSERT INTO events(id, ts_ms, kind, subject, data_json, "
                                      "schema_version) VALUES (?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, event.id)
      .Bind(2, event.ts_ms)
      .Bind(3, event.kind)
      .Bind(4, event.subject)
      .Bind(5, event.data_json.empty() ? std::string_view("{}") : event.data_json)
      .Bind(6, int64_t{mesh::kRecordSchemaVersion});
  POPULI_RETURN_IF_ERROR(stmt.Run());
  return true;
}

Result<bool> SqliteWriteTxn::ImportTaskLog(std::string_view task_id, const TaskLogChunk& chunk) {
  POPULI_RETURN_IF_ERROR(ValidateImportedTaskLog(task_id, chunk));
  {
    POPULI_ASSIGN_OR_RETURN(Stmt task, db_.Prepare("SELECT 1 FROM tasks WHERE id = ?"));
    task.Bind(1, task_id);
    POPULI_ASSIGN_OR_RETURN(bool row, task.Step());
    if (!row) {
      return NotFound("imported log chunk names task " + std::string(task_id) + ", not stored",
                      "import the task before its log");
    }
  }
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db_.Prepare("INSERT INTO task_logs(task_id, seq, attempt, stream, ts_ms, data, "
                             "schema_version) VALUES (?, ?, ?, ?, ?, CAST(? AS BLOB), ?) "
                             "ON CONFLICT(task_id, seq) DO NOTHING"));
  stmt.Bind(1, task_id)
      .Bind(2, chunk.seq)
      .Bind(3, int64_t{chunk.attempt})
      .Bind(4, chunk.stream)
      .Bind(5, chunk.ts_ms)
      .Bind(6, chunk.data)
      .Bind(7, int64_t{mesh::kRecordSchemaVersion});
  POPULI_RETURN_IF_ERROR(stmt.Run());
  return db_.Changes() > 0;
}

Status SqliteWriteTxn::ImportRole(const RoleLease& role) {
  POPULI_RETURN_IF_ERROR(ValidateImportedRole(role));
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare("INSERT INTO roles(role, holder, fencing_token, acquired_ms, expires_ms) "
                  "VALUES (?, ?, ?, ?, ?) ON CONFLICT(role) DO UPDATE SET holder = "
                  "excluded.holder, fencing_token = excluded.fencing_token, acquired_ms = "
                  "excluded.acquired_ms, expires_ms = excluded.expires_ms "
                  "WHERE excluded.fencing_token > roles.fencing_token"));
  stmt.Bind(1, role.role)
      .Bind(2, role.holder)
      .Bind(3, role.fencing_token)
      .Bind(4, role.acquired_ms)
      .Bind(5, role.expires_ms);
  return stmt.Run();
}

Status SqliteWriteTxn::RaiseIdHighWater(const IdHighWater& marks) {
  POPULI_RETURN_IF_ERROR(RaiseAutoincrement(db_, "messages", marks.message_id));
  return RaiseAutoincrement(db_, "events", marks.event_id);
}

Status SqliteWriteTxn::ClearForRestore() {
  // The in-memory pending counts lose what the deleted rows held once this commits.
  {
    POPULI_ASSIGN_OR_RETURN(Stmt pending,
                            db_.Prepare("SELECT receiver, count(*) FROM messages WHERE state IN "
                                        "('pending', 'claimed') GROUP BY receiver"));
    while (true) {
      POPULI_ASSIGN_OR_RETURN(bool row, pending.Step());
      if (!row) break;
      pending_.Add(pending.Text(0), -pending.Int(1));
    }
  }
  return db_.Exec(
      "DELETE FROM task_logs; DELETE FROM tasks; DELETE FROM messages; DELETE FROM exec_leases; "
      "DELETE FROM events; DELETE FROM kv; DELETE FROM audit_log; DELETE FROM nodes;");
}

}  // namespace populi::store::sqlite
