// MeshStore::Export on PostgreSQL: every table read in one REPEATABLE READ, READ ONLY snapshot.
// libpq holds a statement's whole result in memory, so the large tables are read in pages by
// their key.
#include <string>

#include "store/postgres/queries.h"
#include "store/postgres/row_codec.h"

namespace populi::store::postgres {
namespace {

using namespace std::string_literals;

constexpr int64_t kExportPage = 1000;

// Runs `sql` page after page until a page comes back short. `bind` binds the cursor and returns
// the index of the page-size parameter; `row` hands one row on and moves the cursor past it.
template <typename Bind, typename Row>
Status ForEachPage(Conn& db, const std::string& sql, Bind&& bind, Row&& row) {
  while (true) {
    POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
    stmt.Bind(bind(stmt), kExportPage);
    int64_t rows = 0;
    while (true) {
      POPULI_ASSIGN_OR_RETURN(bool more, stmt.Step());
      if (!more) break;
      ++rows;
      POPULI_RETURN_IF_ERROR(row(stmt));
    }
    if (rows < kExportPage) return Status::Ok();
  }
}

Status ExportRolesNodesCounters(Conn& db, ExportVisitor& visitor) {
  POPULI_ASSIGN_OR_RETURN(std::vector<RoleLease> roles, QueryRoles(db, /*held_only=*/false));
  for (const RoleLease& role : roles) POPULI_RETURN_IF_ERROR(visitor.Role(role));
  POPULI_ASSIGN_OR_RETURN(std::vector<mesh::NodeRecord> nodes, QueryNodes(db));
  for (const mesh::NodeRecord& node : nodes) POPULI_RETURN_IF_ERROR(visitor.Node(node));
  std::string after;
  return ForEachPage(
      db,
      "SELECT scope_key, last_token FROM fencing_counters WHERE scope_key > ? ORDER BY scope_key "
      "LIMIT ?",
      [&](Stmt& stmt) {
        stmt.Bind(1, after);
        return 2;
      },
      [&](Stmt& row) {
        after = row.Text(0);
        return visitor.Counter({row.Text(0), row.Int(1)});
      });
}

Status ExportLeasesMessagesEvents(Conn& db, ExportVisitor& visitor) {
  std::string after_lease;
  POPULI_RETURN_IF_ERROR(ForEachPage(
      db,
      "SELECT "s + kLeaseColumns + " FROM exec_leases WHERE lease_id > ? ORDER BY lease_id LIMIT ?",
      [&](Stmt& stmt) {
        stmt.Bind(1, after_lease);
        return 2;
      },
      [&](Stmt& row) {
        POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, ReadLease(row));
        after_lease = lease.lease_id;
        return visitor.Lease(lease);
      }));
  int64_t after_message = 0;
  // finished_ms follows kMessageColumns (22 columns).
  POPULI_RETURN_IF_ERROR(ForEachPage(
      db,
      "SELECT "s + kMessageColumns +
          ", finished_ms FROM messages WHERE id > ?::bigint ORDER BY id LIMIT ?",
      [&](Stmt& stmt) {
        stmt.Bind(1, after_message);
        return 2;
      },
      [&](Stmt& row) {
        POPULI_ASSIGN_OR_RETURN(mesh::A2AMessage message, ReadMessage(row));
        after_message = message.id;
        return visitor.Message(message, row.Int(22));
      }));
  int64_t after_event = 0;
  return ForEachPage(
      db, "SELECT "s + kEventColumns + " FROM events WHERE id > ?::bigint ORDER BY id LIMIT ?",
      [&](Stmt& stmt) {
        stmt.Bind(1, after_event);
        return 2;
      },
      [&](Stmt& row) {
        const mesh::Event event = ReadEvent(row);
        after_event = event.id;
        return visitor.Event(event);
      });
}

Status ExportKvAndTasks(Conn& db, ExportVisitor& visitor) {
  std::string after_ns, after_key;
  POPULI_RETURN_IF_ERROR(ForEachPage(
      db,
      "SELECT ns, key, value FROM kv WHERE (ns, key) > (?::text, ?::text) ORDER BY ns, key "
      "LIMIT ?",
      [&](Stmt& stmt) {
        stmt.Bind(1, after_ns).Bind(2, after_key);
        return 3;
      },
      [&](Stmt& row) {
        after_ns = row.Text(0);
        after_key = row.Text(1);
        return visitor.Kv(after_ns, after_key, row.Text(2));
      }));
  std::string after_task;
  POPULI_RETURN_IF_ERROR(ForEachPage(
      db, "SELECT id, body FROM tasks WHERE id > ? ORDER BY id LIMIT ?",
      [&](Stmt& stmt) {
        stmt.Bind(1, after_task);
        return 2;
      },
      [&](Stmt& row) {
        after_task = row.Text(0);
        POPULI_ASSIGN_OR_RETURN(mesh::Task task, DecodeTaskBody(row.Text(1)));
        return visitor.Task(task);
      }));
  std::string log_task;
  int64_t log_seq = 0;
  return ForEachPage(
      db,
      "SELECT task_id, seq, attempt, stream, ts_ms, data FROM task_logs WHERE (task_id, seq) > "
      "(?::text, ?::bigint) ORDER BY task_id, seq LIMIT ?",
      [&](Stmt& stmt) {
        stmt.Bind(1, log_task).Bind(2, log_seq);
        return 3;
      },
      [&](Stmt& row) {
        log_task = row.Text(0);
        log_seq = row.Int(1);
        TaskLogChunk chunk{log_seq, static_cast<int32_t>(row.Int(2)), row.Text(3), row.Blob(5),
                           row.Int(4)};
        return visitor.TaskLog(log_task, chunk);
      });
}

Status ExportAuditAndHighWater(Conn& db, ExportVisitor& visitor) {
  int64_t after = 0;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(std::vector<mesh::AuditEntry> entries,
                            QueryAuditEntries(db, after, kExportPage));
    for (const mesh::AuditEntry& entry : entries) {
      POPULI_RETURN_IF_ERROR(visitor.Audit(entry));
      after = entry.seq;
    }
    if (static_cast<int64_t>(entries.size()) < kExportPage) break;
  }
  // The sequences: the highest id each handed out (none yet while is_called is false).
  IdHighWater marks;
  POPULI_ASSIGN_OR_RETURN(
      marks.message_id,
      db.QueryInt("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM messages_id_seq"));
  POPULI_ASSIGN_OR_RETURN(
      marks.event_id,
      db.QueryInt("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_id_seq"));
  return visitor.HighWater(marks);
}

}  // namespace

Status ExportStore(Conn& db, ExportVisitor& visitor) {
  POPULI_RETURN_IF_ERROR(db.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Status status = ExportRolesNodesCounters(db, visitor);
  if (status.ok()) status = ExportLeasesMessagesEvents(db, visitor);
  if (status.ok()) status = ExportKvAndTasks(db, visitor);
  if (status.ok()) status = ExportAuditAndHighWater(db, visitor);
  (void)db.Exec(status.ok() ? "COMMIT" : "ROLLBACK");
  return status;
}

}  // namespace populi::store::postgres
