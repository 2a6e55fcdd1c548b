// Task and task-log reads, shared by the writer and the reader connections. The `body` column
// holds the task's wire JSON (mesh/task_json.h); the other columns only serve the queries.
#include <string>

#include "mesh/json.h"
#include "mesh/task_json.h"
#include "store/sqlite/queries.h"

namespace populi::store::sqlite {

Result<mesh::Task> DecodeTaskBody(std::string_view body) {
  Result<boost::json::value> parsed = mesh::ParseJson(body);
  Result<mesh::Task> task = parsed.ok() ? mesh::TaskFromJson(*parsed) : parsed.status();
  if (!task.ok()) {
    return Status(Code::kStoreIo, "stored task is unreadable: " + task.status().message(),
                  "run `vox populi store check`");
  }
  return task;
}

namespace {

Result<std::optional<mesh::Task>> OneTask(Stmt& stmt) {
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<mesh::Task>();
  POPULI_ASSIGN_OR_RETURN(mesh::Task task, DecodeTaskBody(stmt.Text(0)));
  return std::optional<mesh::Task>(std::move(task));
}

}  // namespace

Result<std::optional<mesh::Task>> QueryTask(Db& db, std::string_view task_id) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT body FROM tasks WHERE id = ?"));
  stmt.Bind(1, task_id);
  return OneTask(stmt);
}

Result<std::optional<mesh::Task>> QueryTaskByClientKey(Db& db, std::string_view client_key) {
  if (client_key.empty()) return std::optional<mesh::Task>();
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT body FROM tasks WHERE client_key = ?"));
  stmt.Bind(1, client_key);
  return OneTask(stmt);
}

Result<std::vector<mesh::Task>> QueryTasks(Db& db, const TaskQuery& q) {
  if (q.limit <= 0) return InvalidArgument("task list limit must be positive", "pass limit >= 1");
  if (!q.state.empty()) POPULI_RETURN_IF_ERROR(mesh::ParseTaskState(q.state).status());
  // One statement per filter shape, so each can use its index (state, created_ms) or created_ms.
  std::string sql = "SELECT body FROM tasks WHERE 1";
  if (!q.state.empty()) sql += " AND state = ?1";
  if (q.active_only) sql += " AND state IN ('pending', 'placed', 'running')";
  sql += " ORDER BY created_ms DESC, id DESC LIMIT ?2";
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
  if (!q.state.empty()) stmt.Bind(1, q.state);
  stmt.Bind(2, int64_t{q.limit});
  std::vector<mesh::Task> tasks;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    POPULI_ASSIGN_OR_RETURN(mesh::Task task, DecodeTaskBody(stmt.Text(0)));
    tasks.push_back(std::move(task));
  }
  return tasks;
}

Result<std::vector<TaskLogChunk>> QueryTaskLogs(Db& db, std::string_view task_id, int64_t after_seq,
                                                int limit) {
  if (limit <= 0) return InvalidArgument("task log limit must be positive", "pass limit >= 1");
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db.Prepare("SELECT seq, attempt, stream, ts_ms, data FROM task_logs "
                                     "WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?"));
  stmt.Bind(1, task_id).Bind(2, after_seq).Bind(3, int64_t{limit});
  std::vector<TaskLogChunk> chunks;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    TaskLogChunk chunk;
    chunk.seq = stmt.Int(0);
    chunk.attempt = static_cast<int32_t>(stmt.Int(1));
    chunk.stream = stmt.Text(2);
    chunk.ts_ms = stmt.Int(3);
    chunk.data = stmt.Text(4);
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

}  // namespace populi::store::sqlite
