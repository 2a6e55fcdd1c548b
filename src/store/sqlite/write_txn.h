// The WriteTxn of the SQLite backend: runs on the writer connection inside a SAVEPOINT that the
// writer opened. Besides the connection it holds only what the current write function changed in
// the pending counts (pending_delta()), which the writer collects after each function.
#pragma once

#include "store/mesh_store.h"
#include "store/sqlite/db.h"
#include "store/sqlite/pending_counts.h"

namespace populi::store::sqlite {

class SqliteWriteTxn final : public WriteTxn {
 public:
  explicit SqliteWriteTxn(Db& db) : db_(db) {}
  // The connection, for the backend's own maintenance writes (retention, import).
  Db& db() { return db_; }
  // Pending messages added (+) or finished (-) per receiver by the writes since the last Clear().
  PendingDelta& pending_delta() { return pending_; }
  // Kinds of the events the current write function appended (counted once it commits).
  std::vector<std::string>& event_kinds() { return event_kinds_; }

  Status UpsertNode(const mesh::NodeRecord& node, bool replace_admin_fields) override;
  Status RemoveNode(std::string_view node_id) override;
  Status TouchNode(std::string_view node_id, int64_t last_seen_ms) override;
  Status SetNodeState(std::string_view node_id, mesh::NodeState state) override;
  Status SetMaintenance(std::string_view node_id, bool on, int64_t until_ms) override;
  Status SetQuarantine(std::string_view node_id, bool on) override;

  Result<DeliverResult> Deliver(const mesh::NewMessage& msg, int64_t now_ms) override;
  Result<std::vector<mesh::A2AMessage>> Claim(const ClaimRequest& req) override;
  Status RenewClaim(std::string_view receiver, int64_t message_id, std::string_view claimer,
                    std::string_view claim_token, int64_t lease_ms, int64_t now_ms) override;
  Result<std::vector<int64_t>> Ack(std::string_view receiver, const std::vector<int64_t>& ids,
                                   std::string_view claim_token, int64_t now_ms,
                                   std::vector<int64_t>* fenced) override;
  Result<SweepResult> SweepExpiredClaims(int64_t now_ms, int max_deliveries) override;

  Result<mesh::ExecLease> GrantLease(std::string_view scope_key, std::string_view holder,
                                     int64_t ttl_ms, int64_t now_ms) override;
  Result<mesh::ExecLease> RenewLease(std::string_view lease_id, std::string_view holder,
                                     int64_t ttl_ms, int64_t now_ms) override;
  Result<mesh::ExecLease> ReleaseLease(std::string_view lease_id, std::string_view holder,
                                       int64_t now_ms) override;
  Result<mesh::ExecLease> CompleteLease(std::string_view lease_id, std::string_view holder,
                                        int64_t fencing_token, int64_t now_ms) override;
  Result<mesh::ExecLease> RevokeLease(std::string_view lease_id, int64_t now_ms) override;
  Result<std::vector<mesh::ExecLease>> ExpireLeases(int64_t now_ms) override;

  Result<bool> ImportMessage(const mesh::A2AMessage& msg, int64_t finished_ms) override;
  Result<bool> ImportLease(const mesh::ExecLease& lease) override;
  // write_txn_restore.cc
  Status ImportFencingCounter(const FencingCounter& counter) override;
  Result<bool> ImportEvent(const mesh::Event& event) override;
  Result<bool> ImportTaskLog(std::string_view task_id, const TaskLogChunk& chunk) override;
  Result<bool> ImportAudit(const mesh::AuditEntry& entry) override;
  Status ImportRole(const RoleLease& role) override;
  Status RaiseIdHighWater(const IdHighWater& marks) override;
  Status ClearForRestore() override;

  // write_txn_roles.cc
  Result<RoleLease> AcquireRole(std::string_view role, std::string_view holder, int64_t ttl_ms,
                                int64_t now_ms) override;
  Status CheckRole(std::string_view role, std::string_view holder, int64_t fencing_token) override;
  Status ReleaseRole(std::string_view role, std::string_view holder, int64_t fencing_token,
                     int64_t now_ms) override;
  Status LockPlacement() override;

  Result<int64_t> AppendEvent(const mesh::Event& event) override;
  Status PutKv(std::string_view ns, std::string_view key, std::string_view value) override;
  Status DeleteKv(std::string_view ns, std::string_view key) override;
  Result<std::optional<std::string>> GetKv(std::string_view ns, std::string_view key) override;
  Result<std::optional<mesh::NodeRecord>> GetNode(std::string_view node_id) override;
  Result<std::optional<mesh::ExecLease>> GetLease(std::string_view lease_id) override;

  // write_txn_audit.cc
  Result<mesh::AuditEntry> AppendAudit(const mesh::AuditRecord& record) override;

  // write_txn_tasks.cc
  Status PutTask(const mesh::Task& task) override;
  Result<std::optional<mesh::Task>> GetTask(std::string_view task_id) override;
  Result<std::optional<mesh::Task>> FindTaskByClientKey(std::string_view client_key) override;
  Result<int64_t> AppendTaskLog(std::string_view task_id, int32_t attempt, std::string_view stream,
                                std::string_view data, int64_t ts_ms) override;

 private:
  // Moves a lease to a terminal state (or renews it) after the caller checked the transition.
  Result<mesh::ExecLease> EndLease(mesh::ExecLease lease, mesh::LeaseState state, int64_t now_ms);
  Result<mesh::ExecLease> LiveLeaseOrRefuse(std::string_view lease_id, std::string_view action,
                                            int64_t now_ms);
  Status UpdateNodeColumn(std::string_view node_id, const std::string& sql, int64_t value);

  Db& db_;
  PendingDelta pending_;
  std::vector<std::string> event_kinds_;
};

}  // namespace populi::store::sqlite
