// Read queries shared by the writer (reads inside a transaction see its own writes) and the
// reader connections.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/types.h"
#include "store/mesh_store.h"
#include "store/sqlite/db.h"

namespace populi::store::sqlite {

Result<std::optional<mesh::NodeRecord>> QueryNode(Db& db, std::string_view node_id);
Result<std::vector<mesh::NodeRecord>> QueryNodes(Db& db);
Result<std::optional<mesh::A2AMessage>> QueryMessage(Db& db, int64_t id);
Result<std::vector<mesh::A2AMessage>> QueryInbox(Db& db, const InboxQuery& q);
Result<std::optional<mesh::ExecLease>> QueryLease(Db& db, std::string_view lease_id);
// The lease in state granted/renewed on scope_key (at most one by a unique index), regardless of
// its expiry time.
Result<std::optional<mesh::ExecLease>> QueryActiveLease(Db& db, std::string_view scope_key);
Result<std::vector<mesh::ExecLease>> QueryLeases(Db& db, bool live_only, int64_t now_ms);
Result<std::vector<mesh::Event>> QueryEvents(Db& db, int64_t after_id, int limit);
Result<std::optional<std::string>> QueryKv(Db& db, std::string_view ns, std::string_view key);
Result<std::vector<std::pair<std::string, std::string>>> QueryKvNamespace(Db& db,
                                                                          std::string_view ns);
// The role's row (write_txn_roles.cc); nullopt when nobody ever held it.
Result<std::optional<RoleLease>> QueryRole(Db& db, std::string_view role);

// Every role's row, by name (write_txn_roles.cc); `held_only` leaves out rows never held.
Result<std::vector<RoleLease>> QueryRoles(Db& db, bool held_only);

// Tasks (queries_tasks.cc). A stored body that does not decode is kStoreIo.
Result<mesh::Task> DecodeTaskBody(std::string_view body);
Result<std::optional<mesh::Task>> QueryTask(Db& db, std::string_view task_id);
Result<std::optional<mesh::Task>> QueryTaskByClientKey(Db& db, std::string_view client_key);
Result<std::vector<mesh::Task>> QueryTasks(Db& db, const TaskQuery& q);
Result<std::vector<TaskLogChunk>> QueryTaskLogs(Db& db, std::string_view task_id, int64_t after_seq,
                                                int limit);

// Audit log (queries_audit.cc). The kv namespace and key of the chain head.
inline constexpr char kAuditKvNamespace[] = "audit";
inline constexpr char kAuditHeadKey[] = "head";
// The stored head; nullopt when absent. A value that does not parse is kStoreIo.
Result<std::optional<mesh::AuditHead>> QueryAuditHead(Db& db);
// The newest entry, if any.
Result<std::optional<mesh::AuditEntry>> QueryLastAudit(Db& db);
Result<std::vector<mesh::AuditEntry>> QueryAuditEntries(Db& db, int64_t after_seq, int64_t limit);
// Entries after `after_seq` and the head in one read transaction.
Result<mesh::AuditPage> QueryAuditPage(Db& db, int64_t after_seq, int limit);

// Every record in one read transaction, in ExportVisitor's order (export.cc).
Status ExportStore(Db& db, ExportVisitor& visitor);

}  // namespace populi::store::sqlite
