// Read queries shared by the writer (reads inside a transaction see its own writes) and the
// reader connections.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/types.h"
#include "store/mesh_store.h"
#include "store/postgres/conn.h"

namespace populi::store::postgres {

Result<std::optional<mesh::NodeRecord>> QueryNode(Conn& db, std::string_view node_id);
Result<std::vector<mesh::NodeRecord>> QueryNodes(Conn& db);
Result<std::optional<mesh::A2AMessage>> QueryMessage(Conn& db, int64_t id);
Result<std::vector<mesh::A2AMessage>> QueryInbox(Conn& db, const InboxQuery& q);
Result<std::optional<mesh::ExecLease>> QueryLease(Conn& db, std::string_view lease_id);
// The lease in state granted/renewed on scope_key (at most one by a unique index), regardless of
// its expiry time.
Result<std::optional<mesh::ExecLease>> QueryActiveLease(Conn& db, std::string_view scope_key);
Result<std::vector<mesh::ExecLease>> QueryLeases(Conn& db, bool live_only, int64_t now_ms);
Result<std::vector<mesh::Event>> QueryEvents(Conn& db, int64_t after_id, int limit);
Result<std::optional<std::string>> QueryKv(Conn& db, std::string_view ns, std::string_view key);
Result<std::vector<std::pair<std::string, std::string>>> QueryKvNamespace(Conn& db,
                                                                          std::string_view ns);
// The role's row (write_txn_roles.cc); nullopt when nobody ever held it. `lock`: "", "FOR SHARE"
// or "FOR UPDATE" (inside a transaction).
Result<std::optional<RoleLease>> QueryRole(Conn& db, std::string_view role,
                                           std::string_view lock = "");

// Every role's row, by name (write_txn_roles.cc); `held_only` leaves out rows never held.
Result<std::vector<RoleLease>> QueryRoles(Conn& db, bool held_only);

// Tasks (queries_tasks.cc). A stored body that does not decode is kStoreIo.
Result<mesh::Task> DecodeTaskBody(std::string_view body);
Result<std::optional<mesh::Task>> QueryTask(Conn& db, std::string_view task_id);
Result<std::optional<mesh::Task>> QueryTaskByClientKey(Conn& db, std::string_view client_key);
Result<std::vector<mesh::Task>> QueryTasks(Conn& db, const TaskQuery& q);
Result<std::vector<TaskLogChunk>> QueryTaskLogs(Conn& db, std::string_view task_id,
                                                int64_t after_seq, int limit);

// Audit log (queries_audit.cc). The kv namespace and key of the chain head, as on SQLite.
inline constexpr char kAuditKvNamespace[] = "audit";
inline constexpr char kAuditHeadKey[] = "head";
// The stored head; nullopt when absent. A value that does not parse is kStoreIo.
Result<std::optional<mesh::AuditHead>> QueryAuditHead(Conn& db);
// The newest entry, if any.
Result<std::optional<mesh::AuditEntry>> QueryLastAudit(Conn& db);
// At most `limit` entries after `after_seq`, ascending (in the caller's transaction).
Result<std::vector<mesh::AuditEntry>> QueryAuditEntries(Conn& db, int64_t after_seq, int64_t limit);
// Entries after `after_seq` and the head, read in one snapshot (a read-only transaction of its
// own: call it on a reader connection, not inside a write).
Result<mesh::AuditPage> QueryAuditPage(Conn& db, int64_t after_seq, int limit);

// Every record in one read-only snapshot, in ExportVisitor's order (export.cc).
Status ExportStore(Conn& db, ExportVisitor& visitor);

}  // namespace populi::store::postgres
