#include "store/postgres/queries.h"

#include <string>

#include "store/postgres/row_codec.h"

namespace populi::store::postgres {

using std::string_literals::operator""s;

Result<std::optional<mesh::NodeRecord>> QueryNode(Conn& db, std::string_view node_id) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db.Prepare("SELECT "s + kNodeColumns + " FROM nodes WHERE id = ?"));
  stmt.Bind(1, node_id);
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<mesh::NodeRecord>();
  POPULI_ASSIGN_OR_RETURN(mesh::NodeRecord node, ReadNode(stmt));
  return std::optional<mesh::NodeRecord>(std::move(node));
}

Result<std::vector<mesh::NodeRecord>> QueryNodes(Conn& db) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db.Prepare("SELECT "s + kNodeColumns + " FROM nodes ORDER BY id"));
  std::vector<mesh::NodeRecord> nodes;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    POPULI_ASSIGN_OR_RETURN(mesh::NodeRecord node, ReadNode(stmt));
    nodes.push_back(std::move(node));
  }
  return nodes;
}

Result<std::optional<mesh::A2AMessage>> QueryMessage(Conn& db, int64_t id) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db.Prepare("SELECT "s + kMessageColumns + " FROM messages WHERE id = ?"));
  stmt.Bind(1, id);
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<mesh::A2AMessage>();
  POPULI_ASSIGN_OR_RETURN(mesh::A2AMessage message, ReadMessage(stmt));
  return std::optional<mesh::A2AMessage>(std::move(message));
}

Result<std::vector<mesh::A2AMessage>> QueryInbox(Conn& db, const InboxQuery& q) {
  if (q.limit <= 0) return InvalidArgument("inbox limit must be positive", "pass limit >= 1");
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare("SELECT "s + kMessageColumns +
                            " FROM messages WHERE receiver = ?1 AND id < ?2 AND (?3 OR state IN "
                            "('pending', 'claimed')) ORDER BY id DESC LIMIT ?4"));
  stmt.Bind(1, q.receiver)
      .Bind(2, q.before_id > 0 ? q.before_id : INT64_MAX)
      .Bind(3, int64_t{q.include_acked ? 1 : 0})
      .Bind(4, int64_t{q.limit});
  std::vector<mesh::A2AMessage> messages;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    POPULI_ASSIGN_OR_RETURN(mesh::A2AMessage message, ReadMessage(stmt));
    messages.push_back(std::move(message));
  }
  return messages;
}

namespace {
Result<std::optional<mesh::ExecLease>> OneLease(Stmt& stmt) {
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<mesh::ExecLease>();
  POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, ReadLease(stmt));
  return std::optional<mesh::ExecLease>(std::move(lease));
}
}  // namespace

Result<std::optional<mesh::ExecLease>> QueryLease(Conn& db, std::string_view lease_id) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare("SELECT "s + kLeaseColumns + " FROM exec_leases WHERE lease_id = ?"));
  stmt.Bind(1, lease_id);
  return OneLease(stmt);
}

Result<std::optional<mesh::ExecLease>> QueryActiveLease(Conn& db, std::string_view scope_key) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare("SELECT "s + kLeaseColumns +
                            " FROM exec_leases WHERE scope_key = ? AND state IN ('granted', "
                            "'renewed')"));
  stmt.Bind(1, scope_key);
  return OneLease(stmt);
}

Result<std::vector<mesh::ExecLease>> QueryLeases(Conn& db, bool live_only, int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT "s + kLeaseColumns +
                 " FROM exec_leases WHERE NOT ?1 OR (state IN ('granted', 'renewed') AND "
                 "expires_ms > ?2) ORDER BY scope_key, fencing_token"));
  stmt.Bind(1, int64_t{live_only ? 1 : 0}).Bind(2, now_ms);
  std::vector<mesh::ExecLease> leases;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, ReadLease(stmt));
    leases.push_back(std::move(lease));
  }
  return leases;
}

Result<std::vector<mesh::Event>> QueryEvents(Conn& db, int64_t after_id, int limit) {
  if (limit <= 0) return InvalidArgument("event limit must be positive", "pass limit >= 1");
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT "s + kEventColumns +
                                                " FROM events WHERE id > ? ORDER BY id LIMIT ?"));
  stmt.Bind(1, after_id).Bind(2, int64_t{limit});
  std::vector<mesh::Event> events;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    events.push_back(ReadEvent(stmt));
  }
  return events;
}

Result<std::optional<std::string>> QueryKv(Conn& db, std::string_view ns, std::string_view key) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT value FROM kv WHERE ns = ? AND key = ?"));
  stmt.Bind(1, ns).Bind(2, key);
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(stmt.Text(0));
}

Result<std::vector<std::pair<std::string, std::string>>> QueryKvNamespace(Conn& db,
                                                                          std::string_view ns) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db.Prepare("SELECT key, value FROM kv WHERE ns = ? ORDER BY key"));
  stmt.Bind(1, ns);
  std::vector<std::pair<std::string, std::string>> rows;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    rows.emplace_back(stmt.Text(0), stmt.Text(1));
  }
  return rows;
}

}  // namespace populi::store::postgres
