// Roles on the writer connection (mesh_store.h, WriteTxn::AcquireRole): one row per role in
// `roles`, never deleted; its fencing token only grows, so CheckRole refuses a holder that lost
// the role. Across replicas: AcquireRole makes sure the row exists and then locks it FOR UPDATE
// before deciding; CheckRole locks it FOR SHARE to the end of the transaction, so a takeover
// waits until the writes the old holder fenced with it committed, and then sees its own refusal
// or the old holder's renewal.
#include <string>

#include "store/postgres/queries.h"
#include "store/postgres/write_txn.h"
#include "store/role_rules.h"

namespace populi::store::postgres {

Result<std::optional<RoleLease>> QueryRole(Conn& db, std::string_view role, std::string_view lock) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT role, holder, fencing_token, acquired_ms, expires_ms FROM roles "
                 "WHERE role = ? " +
                 std::string(lock)));
  stmt.Bind(1, role);
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.Int(2) == 0) return std::optional<RoleLease>();  // 0: created, never held
  RoleLease lease;
  lease.role = stmt.Text(0);
  lease.holder = stmt.Text(1);
  lease.fencing_token = stmt.Int(2);
  lease.acquired_ms = stmt.Int(3);
  lease.expires_ms = stmt.Int(4);
  return std::optional<RoleLease>(std::move(lease));
}

Result<std::vector<RoleLease>> QueryRoles(Conn& db, bool held_only) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT role, holder, fencing_token, acquired_ms, expires_ms FROM roles "
                 "WHERE fencing_token > 0 OR NOT ?::boolean ORDER BY role"));
  stmt.Bind(1, held_only ? "true" : "false");
  std::vector<RoleLease> roles;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    roles.push_back({stmt.Text(0), stmt.Text(1), stmt.Int(2), stmt.Int(3), stmt.Int(4)});
  }
  return roles;
}

Result<RoleLease> PgWriteTxn::AcquireRole(std::string_view role, std::string_view holder,
                                          int64_t ttl_ms, int64_t now_ms) {
  POPULI_RETURN_IF_ERROR(ValidateRoleArgs(role, holder, ttl_ms));
  // The row first (a no-op when it exists; a racing replica waits for ours), then its lock.
  POPULI_ASSIGN_OR_RETURN(
      Stmt ensure,
      db_.Prepare("INSERT INTO roles(role, holder, fencing_token, acquired_ms, expires_ms) "
                  "VALUES (?, '', 0, 0, 0) ON CONFLICT(role) DO NOTHING"));
  ensure.Bind(1, role);
  POPULI_RETURN_IF_ERROR(ensure.Run());
  POPULI_ASSIGN_OR_RETURN(std::optional<RoleLease> current, QueryRole(db_, role, "FOR UPDATE"));
  POPULI_ASSIGN_OR_RETURN(RoleLease lease, NextRoleLease(role, holder, ttl_ms, now_ms, current));
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare("UPDATE roles SET holder = ?, fencing_token = ?, acquired_ms = ?, expires_ms = ? "
                  "WHERE role = ?"));
  stmt.Bind(1, holder).Bind(2, lease.fencing_token).Bind(3, lease.acquired_ms);
  stmt.Bind(4, lease.expires_ms).Bind(5, role);
  POPULI_RETURN_IF_ERROR(stmt.Run());
  return lease;
}

Status PgWriteTxn::CheckRole(std::string_view role, std::string_view holder,
                             int64_t fencing_token) {
  POPULI_ASSIGN_OR_RETURN(std::optional<RoleLease> current, QueryRole(db_, role, "FOR SHARE"));
  return CheckRoleHolder(role, holder, fencing_token, current);
}

Status PgWriteTxn::ReleaseRole(std::string_view role, std::string_view holder,
                               int64_t fencing_token, int64_t now_ms) {
  POPULI_RETURN_IF_ERROR(CheckRole(role, holder, fencing_token));
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db_.Prepare("UPDATE roles SET expires_ms = least(expires_ms, ?) WHERE role = ?"));
  stmt.Bind(1, now_ms).Bind(2, role);
  return stmt.Run();
}

Status PgWriteTxn::LockPlacement() {
  // Class 8 of hashtextextended keys (LockScope uses 7); released at COMMIT or ROLLBACK.
  POPULI_ASSIGN_OR_RETURN(
      Stmt lock, db_.Prepare("SELECT pg_advisory_xact_lock(hashtextextended('populi.placement', "
                             "8))::text"));
  return lock.Run();
}

}  // namespace populi::store::postgres
