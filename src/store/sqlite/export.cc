// MeshStore::Export on SQLite: every table read in one read transaction (one snapshot), each with
// one statement stepped row by row, so a large store never sits in memory at once.
#include <string>

#include "store/sqlite/queries.h"
#include "store/sqlite/row_codec.h"

namespace populi::store::sqlite {
namespace {

using namespace std::string_literals;

// Steps `sql` and hands each row to `row`; stops at the first error.
template <typename F>
Status ForEachRow(Db& db, const std::string& sql, F&& row) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool more, stmt.Step());
    if (!more) return Status::Ok();
    POPULI_RETURN_IF_ERROR(row(stmt));
  }
}

Status ExportRolesNodesCounters(Db& db, ExportVisitor& visitor) {
  POPULI_ASSIGN_OR_RETURN(std::vector<RoleLease> roles, QueryRoles(db, /*held_only=*/false));
  for (const RoleLease& role : roles) POPULI_RETURN_IF_ERROR(visitor.Role(role));
  POPULI_RETURN_IF_ERROR(
      ForEachRow(db, "SELECT "s + kNodeColumns + " FROM nodes ORDER BY id", [&](Stmt& row) {
        POPULI_ASSIGN_OR_RETURN(mesh::NodeRecord node, ReadNode(row));
        return visitor.Node(node);
      }));
  return ForEachRow(db, "SELECT scope_key, last_token FROM fencing_counters ORDER BY scope_key",
                    [&](Stmt& row) {
                      return visitor.Counter({row.Text(0), row.Int(1)});
                    });
}

Status ExportLeasesMessagesEvents(Db& db, ExportVisitor& visitor) {
  POPULI_RETURN_IF_ERROR(ForEachRow(
      db, "SELECT "s + kLeaseColumns + " FROM exec_leases ORDER BY lease_id", [&](Stmt& row) {
        POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, ReadLease(row));
        return visitor.Lease(lease);
      }));
  // finished_ms follows kMessageColumns (22 columns).
  POPULI_RETURN_IF_ERROR(ForEachRow(
      db, "SELECT "s + kMessageColumns + ", finished_ms FROM messages ORDER BY id", [&](Stmt& row) {
        POPULI_ASSIGN_OR_RETURN(mesh::A2AMessage message, ReadMessage(row));
        return visitor.Message(message, row.Int(22));
      }));
  return ForEachRow(db, "SELECT "s + kEventColumns + " FROM events ORDER BY id",
                    [&](Stmt& row) { return visitor.Event(ReadEvent(row)); });
}

Status ExportKvTasksAudit(Db& db, ExportVisitor& visitor) {
  POPULI_RETURN_IF_ERROR(
      ForEachRow(db, "SELECT ns, key, value FROM kv ORDER BY ns, key",
                 [&](Stmt& row) { return visitor.Kv(row.Text(0), row.Text(1), row.Text(2)); }));
  POPULI_RETURN_IF_ERROR(ForEachRow(db, "SELECT body FROM tasks ORDER BY id", [&](Stmt& row) {
    POPULI_ASSIGN_OR_RETURN(mesh::Task task, DecodeTaskBody(row.Text(0)));
    return visitor.Task(task);
  }));
  POPULI_RETURN_IF_ERROR(ForEachRow(
      db, "SELECT task_id, seq, attempt, stream, ts_ms, data FROM task_logs ORDER BY task_id, seq",
      [&](Stmt& row) {
        TaskLogChunk chunk{row.Int(1), static_cast<int32_t>(row.Int(2)), row.Text(3), row.Text(5),
                           row.Int(4)};
        return visitor.TaskLog(row.Text(0), chunk);
      }));
  return ForEachRow(db,
                    "SELECT seq, ts_ms, kind, actor, subject, data_json, prev_hash, hash FROM "
                    "audit_log ORDER BY seq",
                    [&](Stmt& row) {
                      mesh::AuditEntry entry;
                      entry.seq = row.Int(0);
                      entry.ts_ms = row.Int(1);
                      entry.kind = row.Text(2);
                      entry.actor = row.Text(3);
                      entry.subject = row.Text(4);
                      entry.data_json = row.Text(5);
                      entry.prev_hash = row.Text(6);
                      entry.hash = row.Text(7);
                      return visitor.Audit(entry);
                    });
}

// The AUTOINCREMENT counters: the highest id each table ever handed out.
Status ExportHighWater(Db& db, ExportVisitor& visitor) {
  IdHighWater marks;
  POPULI_ASSIGN_OR_RETURN(
      marks.message_id,
      db.QueryInt("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'messages'"));
  POPULI_ASSIGN_OR_RETURN(
      marks.event_id,
      db.QueryInt("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'events'"));
  return visitor.HighWater(marks);
}

}  // namespace

Status ExportStore(Db& db, ExportVisitor& visitor) {
  POPULI_RETURN_IF_ERROR(db.Exec("BEGIN"));
  Status status = ExportRolesNodesCounters(db, visitor);
  if (status.ok()) status = ExportLeasesMessagesEvents(db, visitor);
  if (status.ok()) status = ExportKvTasksAudit(db, visitor);
  if (status.ok()) status = ExportHighWater(db, visitor);
  (void)db.Exec("COMMIT");
  return status;
}

}  // namespace populi::store::sqlite
