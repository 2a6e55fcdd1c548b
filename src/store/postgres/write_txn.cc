// Nodes, events and kv on the writer connection.
#include "store/postgres/write_txn.h"

#include <string>

#include "store/postgres/queries.h"
#include "store/postgres/row_codec.h"

namespace populi::store::postgres {

Status PgWriteTxn::UpsertNode(const mesh::NodeRecord& node, bool replace_admin_fields) {
  if (node.id.empty()) return InvalidArgument("node id is empty", "pass the node's id");
  // The conflict branch keeps the control-plane owned columns unless told to replace them.
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare("INSERT INTO nodes(id, record_json, state, joined_ms, last_seen_ms, "
                  "maintenance, maintenance_until_ms, quarantined, schema_version) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(id) DO UPDATE SET "
                  "record_json = excluded.record_json, state = excluded.state, "
                  "last_seen_ms = excluded.last_seen_ms, schema_version = excluded.schema_version, "
                  "joined_ms = CASE WHEN ?10 THEN excluded.joined_ms ELSE nodes.joined_ms END, "
                  "maintenance = CASE WHEN ?10 THEN excluded.maintenance "
                  "ELSE nodes.maintenance END, "
                  "maintenance_until_ms = CASE WHEN ?10 THEN excluded.maintenance_until_ms "
                  "ELSE nodes.maintenance_until_ms END, "
                  "quarantined = CASE WHEN ?10 THEN excluded.quarantined "
                  "ELSE nodes.quarantined END"));
  stmt.Bind(1, node.id)
      .Bind(2, EncodeNodeJson(node))
      .Bind(3, mesh::ToString(node.state))
      .Bind(4, node.joined_ms)
      .Bind(5, node.last_seen_ms)
      .Bind(6, int64_t{node.maintenance ? 1 : 0})
      .Bind(7, node.maintenance_until_ms)
      .Bind(8, int64_t{node.quarantined ? 1 : 0})
      .Bind(9, int64_t{mesh::kRecordSchemaVersion})
      .Bind(10, int64_t{replace_admin_fields ? 1 : 0});
  return stmt.Run();
}

Status PgWriteTxn::UpdateNodeColumn(std::string_view node_id, const std::string& sql,
                                    int64_t value) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db_.Prepare(sql));
  stmt.Bind(1, value).Bind(2, node_id);
  POPULI_RETURN_IF_ERROR(stmt.Run());
  if (stmt.Changes() == 0) {
    return NotFound("node " + std::string(node_id) + " is not registered",
                    "list nodes with `vox populi nodes`");
  }
  return Status::Ok();
}

Status PgWriteTxn::RemoveNode(std::string_view node_id) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db_.Prepare("DELETE FROM nodes WHERE id = ?"));
  stmt.Bind(1, node_id);
  POPULI_RETURN_IF_ERROR(stmt.Run());
  if (stmt.Changes() == 0) {
    return NotFound("node " + std::string(node_id) + " is not registered",
                    "list nodes with `vox populi nodes`");
  }
  return Status::Ok();
}

Status PgWriteTxn::TouchNode(std::string_view node_id, int64_t last_seen_ms) {
  return UpdateNodeColumn(node_id, "UPDATE nodes SET last_seen_ms = ? WHERE id = ?", last_seen_ms);
}

Status PgWriteTxn::SetNodeState(std::string_view node_id, mesh::NodeState state) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db_.Prepare("UPDATE nodes SET state = ? WHERE id = ?"));
  stmt.Bind(1, mesh::ToString(state)).Bind(2, node_id);
  POPULI_RETURN_IF_ERROR(stmt.Run());
  if (stmt.Changes() == 0) {
    return NotFound("node " + std::string(node_id) + " is not registered",
                    "list nodes with `vox populi nodes`");
  }
  return Status::Ok();
}

Status PgWriteTxn::SetMaintenance(std::string_view node_id, bool on, int64_t until_ms) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare("UPDATE nodes SET maintenance = ?, maintenance_until_ms = ? WHERE id = ?"));
  stmt.Bind(1, int64_t{on ? 1 : 0}).Bind(2, on ? until_ms : 0).Bind(3, node_id);
  POPULI_RETURN_IF_ERROR(stmt.Run());
  if (stmt.Changes() == 0) {
    return NotFound("node " + std::string(node_id) + " is not registered",
                    "list nodes with `vox populi nodes`");
  }
  return Status::Ok();
}

Status PgWriteTxn::SetQuarantine(std::string_view node_id, bool on) {
  return UpdateNodeColumn(node_id, "UPDATE nodes SET quarantined = ? WHERE id = ?", on ? 1 : 0);
}

Result<int64_t> PgWriteTxn::AppendEvent(const mesh::Event& event) {
  if (event.kind.empty()) return InvalidArgument("event kind is empty", "e.g. \"node.down\"");
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db_.Prepare("INSERT INTO events(ts_ms, kind, subject, data_json, "
                                      "schema_version) VALUES (?, ?, ?, ?, ?) RETURNING id"));
  stmt.Bind(1, event.ts_ms)
      .Bind(2, event.kind)
      .Bind(3, event.subject)
      .Bind(4, event.data_json.empty() ? std::string_view("{}") : event.data_json)
      .Bind(5, int64_t{mesh::kRecordSchemaVersion});
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Internal("event insert returned no id", "report this as a bug");
  return stmt.Int(0);
}

Status PgWriteTxn::PutKv(std::string_view ns, std::string_view key, std::string_view value) {
  if (ns.empty() || key.empty()) {
    return InvalidArgument("kv namespace and key must be non-empty",
                           "name both the namespace and the key");
  }
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db_.Prepare("INSERT INTO kv(ns, key, value, schema_version) VALUES "
                                      "(?, ?, ?, ?) ON CONFLICT(ns, key) DO UPDATE SET "
                                      "value = excluded.value"));
  stmt.Bind(1, ns).Bind(2, key).Bind(3, value).Bind(4, int64_t{mesh::kRecordSchemaVersion});
  return stmt.Run();
}

Status PgWriteTxn::DeleteKv(std::string_view ns, std::string_view key) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db_.Prepare("DELETE FROM kv WHERE ns = ? AND key = ?"));
  stmt.Bind(1, ns).Bind(2, key);
  return stmt.Run();
}

Result<std::optional<std::string>> PgWriteTxn::GetKv(std::string_view ns, std::string_view key) {
  return QueryKv(db_, ns, key);
}

Result<std::optional<mesh::NodeRecord>> PgWriteTxn::GetNode(std::string_view node_id) {
  return QueryNode(db_, node_id);
}

Result<std::optional<mesh::ExecLease>> PgWriteTxn::GetLease(std::string_view lease_id) {
  return QueryLease(db_, lease_id);
}

}  // namespace populi::store::postgres
