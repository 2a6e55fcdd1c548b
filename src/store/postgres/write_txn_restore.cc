// The restore path beyond messages, leases and audit entries (store copies, store/transfer.h):
// events, task log chunks, roles, fencing counters and the id sequences, inserted as they were.
#include <string>

#include "store/postgres/queries.h"
#include "store/postgres/write_txn.h"
#include "store/restore_rules.h"

namespace populi::store::postgres {
namespace {

// Moves `sequence` so that its next value is above `at_least`; never moves it back.
Status RaiseSequence(Conn& db, const char* sequence, int64_t at_least) {
  if (at_least < 1) return Status::Ok();
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare(
          std::string("SELECT setval('") + sequence + "', ?1::bigint)::text FROM " + sequence +
          " WHERE ?1::bigint > CASE WHEN is_called THEN last_value ELSE last_value - 1 END"));
  stmt.Bind(1, at_least);
  return stmt.Run();
}

}  // namespace

Status PgWriteTxn::ImportFencingCounter(const FencingCounter& counter) {
  POPULI_RETURN_IF_ERROR(ValidateImportedCounter(counter));
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare("INSERT INTO fencing_counters(scope_key, last_token) VALUES (?1, ?2::bigint) "
                  "ON CONFLICT(scope_key) DO UPDATE SET last_token = "
                  "greatest(fencing_counters.last_token, ?2::bigint)"));
  stmt.Bind(1, counter.scope_key).Bind(2, counter.last_token);
  return stmt.Run();
}

Result<bool> PgWriteTxn::ImportEvent(const mesh::Event& event) {
  POPULI_RETURN_IF_ERROR(ValidateImportedEvent(event));
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare("INSERT INTO events(id, ts_ms, kind, subject, data_json, schema_version) "
                  "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING"));
  stmt.Bind(1, event.id)
      .Bind(2, event.ts_ms)
      .Bind(3, event.kind)
      .Bind(4, event.subject)
      .Bind(5, event.data_json.empty() ? std::string_view("{}") : event.data_json)
      .Bind(6, int64_t{mesh::kRecordSchemaVersion});
  POPULI_RETURN_IF_ERROR(stmt.Run());
  if (stmt.Changes() == 0) return false;
  // Later events continue above the imported id.
  POPULI_RETURN_IF_ERROR(RaiseSequence(db_, "events_id_seq", event.id));
  return true;
}

Result<bool> PgWriteTxn::ImportTaskLog(std::string_view task_id, const TaskLogChunk& chunk) {
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
      Stmt stmt,
      db_.Prepare("INSERT INTO task_logs(task_id, seq, attempt, stream, ts_ms, data, "
                  "schema_version) VALUES (?, ?::bigint, ?::bigint, ?, ?::bigint, ?::bytea, "
                  "?::bigint) ON CONFLICT(task_id, seq) DO NOTHING"));
  stmt.Bind(1, task_id)
      .Bind(2, chunk.seq)
      .Bind(3, int64_t{chunk.attempt})
      .Bind(4, chunk.stream)
      .Bind(5, chunk.ts_ms)
      .BindBlob(6, chunk.data)
      .Bind(7, int64_t{mesh::kRecordSchemaVersion});
  POPULI_RETURN_IF_ERROR(stmt.Run());
  return stmt.Changes() > 0;
}

Status PgWriteTxn::ImportRole(const RoleLease& role) {
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

Status PgWriteTxn::RaiseIdHighWater(const IdHighWater& marks) {
  POPULI_RETURN_IF_ERROR(RaiseSequence(db_, "messages_id_seq", marks.message_id));
  return RaiseSequence(db_, "events_id_seq", marks.event_id);
}

Status PgWriteTxn::ClearForRestore() {
  return db_.Exec(
      "DELETE FROM task_logs; DELETE FROM tasks; DELETE FROM messages; DELETE FROM exec_leases; "
      "DELETE FROM events; DELETE FROM kv; DELETE FROM audit_log; DELETE FROM nodes;");
}

}  // namespace populi::store::postgres
