// Roles on the writer connection (mesh_store.h, WriteTxn::AcquireRole): one row per role in
// `roles`, never deleted; its fencing token only grows, so CheckRole refuses a holder that lost
// the role. The single writer serializes every role write; no row lock is needed.
#include <string>

#include "store/role_rules.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/write_txn.h"

namespace populi::store::sqlite {

Result<std::optional<RoleLease>> QueryRole(Db& db, std::string_view role) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT role, holder, fencing_token, acquired_ms, expires_ms FROM roles "
                 "WHERE role = ?"));
  stmt.Bind(1, role);
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.Int(2) == 0) return std::optional<RoleLease>();  // 0: never held
  RoleLease lease;
  lease.role = stmt.Text(0);
  lease.holder = stmt.Text(1);
  lease.fencing_token = stmt.Int(2);
  lease.acquired_ms = stmt.Int(3);
  lease.expires_ms = stmt.Int(4);
  return std::optional<RoleLease>(std::move(lease));
}

Result<std::vector<RoleLease>> QueryRoles(Db& db, bool held_only) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT role, holder, fencing_token, acquired_ms, expires_ms FROM roles "
                 "WHERE fencing_token > 0 OR NOT ? ORDER BY role"));
  stmt.Bind(1, int64_t{held_only ? 1 : 0});
  std::vector<RoleLease> roles;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    roles.push_back({stmt.Text(0), stmt.Text(1), stmt.Int(2), stmt.Int(3), stmt.Int(4)});
  }
  return roles;
}

Result<RoleLease> SqliteWriteTxn::AcquireRole(std::string_view role, std::string_view holder,
                                              int64_t ttl_ms, int64_t now_ms) {
  POPULI_RETURN_IF_ERROR(ValidateRoleArgs(role, holder, ttl_ms));
  POPULI_ASSIGN_OR_RETURN(std::optional<RoleLease> current, QueryRole(db_, role));
  POPULI_ASSIGN_OR_RETURN(RoleLease lease, NextRoleLease(role, holder, ttl_ms, now_ms, current));
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_.Prepare(
          "INSERT INTO roles(role, holder, fencing_token, acquired_ms, expires_ms) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT(role) DO UPDATE SET holder = excluded.holder, "
          "fencing_token = excluded.fencing_token, acquired_ms = excluded.acquired_ms, "
          "expires_ms = excluded.expires_ms"));
  stmt.Bind(1, role).Bind(2, holder).Bind(3, lease.fencing_token).Bind(4, lease.acquired_ms);
  stmt.Bind(5, lease.expires_ms);
  POPULI_RETURN_IF_ERROR(stmt.Run());
  return lease;
}

Status SqliteWriteTxn::CheckRole(std::string_view role, std::string_view holder,
                                 int64_t fencing_token) {
  POPULI_ASSIGN_OR_RETURN(std::optional<RoleLease> current, QueryRole(db_, role));
  return CheckRoleHolder(role, holder, fencing_token, current);
}

Status SqliteWriteTxn::ReleaseRole(std::string_view role, std::string_view holder,
                                   int64_t fencing_token, int64_t now_ms) {
  POPULI_RETURN_IF_ERROR(CheckRole(role, holder, fencing_token));
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db_.Prepare("UPDATE roles SET expires_ms = min(expires_ms, ?) WHERE role = ?"));
  stmt.Bind(1, now_ms).Bind(2, role);
  return stmt.Run();
}

Status SqliteWriteTxn::LockPlacement() {
  return Status::Ok();  // the single writer already serializes every placement
}

}  // namespace populi::store::sqlite
