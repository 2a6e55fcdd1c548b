// Tasks and task logs on the writer connection. A task row is replaced whole on every change
// (tasks are small and changed a handful of times); log chunks are appended with the next seq of
// their task.
#include <string>

#include "mesh/json.h"
#include "mesh/task_json.h"
#include "mesh/validate.h"
#include "store/postgres/queries.h"
#include "store/postgres/write_txn.h"

namespace populi::store::postgres {
namespace {

bool IsLogStream(std::string_view stream) {
  return stream == "stdout" || stream == "stderr" || stream == "system";
}

}  // namespace

Status PgWriteTxn::PutTask(const mesh::Task& task) {
  if (task.id.empty()) return InvalidArgument("task id is empty", "give the task an id");
  // A body that would not parse back would make the row unreadable.
  const std::string body = mesh::Serialize(mesh::ToJson(task));
  if (!mesh::IsValidUtf8(body)) {
    return InvalidArgument("task " + task.id + " holds text that is not valid UTF-8",
                           "validate the spec (ValidateTaskSpec) before storing it");
  }
  const std::string& client_key = task.spec.client_key;
  if (!client_key.empty()) {
    POPULI_ASSIGN_OR_RETURN(Stmt owner, db_.Prepare("SELECT id FROM tasks WHERE client_key = ?"));
    owner.Bind(1, client_key);
    POPULI_ASSIGN_OR_RETURN(bool row, owner.Step());
    if (row && owner.Text(0) != task.id) {
      return {Code::kAlreadyExists,
              "client_key '" + client_key + "' already names task " + owner.Text(0),
              "fetch that task, or submit with another client_key"};
    }
  }
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare("INSERT INTO tasks(id, client_key, state, created_ms, updated_ms, body, "
                  "schema_version) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                  "client_key = excluded.client_key, state = excluded.state, "
                  "created_ms = excluded.created_ms, updated_ms = excluded.updated_ms, "
                  "body = excluded.body, schema_version = excluded.schema_version"));
  stmt.Bind(1, task.id);
  if (client_key.empty()) {
    stmt.BindNull(2);
  } else {
    stmt.Bind(2, client_key);
  }
  stmt.Bind(3, mesh::ToString(task.state))
      .Bind(4, task.created_ms)
      .Bind(5, task.updated_ms)
      .Bind(6, body)
      .Bind(7, int64_t{mesh::kRecordSchemaVersion});
  return stmt.Run();
}

Result<std::optional<mesh::Task>> PgWriteTxn::GetTask(std::string_view task_id) {
  return QueryTask(db_, task_id);
}

Result<std::optional<mesh::Task>> PgWriteTxn::FindTaskByClientKey(std::string_view client_key) {
  return QueryTaskByClientKey(db_, client_key);
}

Result<int64_t> PgWriteTxn::AppendTaskLog(std::string_view task_id, int32_t attempt,
                                          std::string_view stream, std::string_view data,
                                          int64_t ts_ms) {
  if (!IsLogStream(stream)) {
    return InvalidArgument("unknown log stream '" + std::string(stream.substr(0, 64)) + "'",
                           "use stdout, stderr or system");
  }
  if (attempt < 0)
    return InvalidArgument("log attempt must not be negative", "give the task an id");
  {
    POPULI_ASSIGN_OR_RETURN(Stmt exists,
                            db_.Prepare("SELECT 1 FROM tasks WHERE id = ? FOR UPDATE"));
    exists.Bind(1, task_id);
    POPULI_ASSIGN_OR_RETURN(bool row, exists.Step());
    if (!row) {
      return NotFound("task " + std::string(task_id) + " does not exist",
                      "list tasks with GET /v1/populi/tasks");
    }
  }
  // The aggregate always yields one row, so the first chunk of a task gets seq 1. The task row's
  // lock (above) orders appends to one task from several replicas.
  POPULI_ASSIGN_OR_RETURN(
      Stmt insert,
      db_.Prepare(
          "INSERT INTO task_logs(task_id, seq, attempt, stream, ts_ms, data, "
          "schema_version) SELECT ?1, coalesce(max(seq), 0) + 1, ?2::bigint, ?3, ?4::bigint, "
          "?5::bytea, ?6::bigint FROM task_logs WHERE task_id = ?1 RETURNING seq"));
  insert.Bind(1, task_id)
      .Bind(2, int64_t{attempt})
      .Bind(3, stream)
      .Bind(4, ts_ms)
      .BindBlob(5, data)
      .Bind(6, int64_t{mesh::kRecordSchemaVersion});
  POPULI_ASSIGN_OR_RETURN(bool row, insert.Step());
  if (!row) return Internal("task log insert returned no row", "run vox populi store check");
  const int64_t seq = insert.Int(0);
  POPULI_RETURN_IF_ERROR(insert.Run());
  return seq;
}

}  // namespace populi::store::postgres
