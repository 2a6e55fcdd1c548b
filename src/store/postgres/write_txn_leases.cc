// Exec leases on the writer connection: the state machine and per-scope fencing counters.
//
//   granted --renew--> renewed --renew--> renewed
//   granted|renewed --> expired (time passed) | revoked (admin) | released (holder)
//                     | completed (holder with the current fencing token)
// Terminal states never change again; every other request on them is kFailedPrecondition.
//
// Across replicas: every transition first takes the scope's advisory lock (held to the end of the
// transaction) and then reads the lease afresh, so two replicas never both decide on one scope
// from the same old state; the partial unique index exec_leases_one_live and the unique
// (scope_key, fencing_token) index back this up.
#include <string>

#include "store/postgres/queries.h"
#include "store/postgres/row_codec.h"
#include "store/postgres/write_txn.h"
#include "util/random.h"

namespace populi::store::postgres {
namespace {

Status NoSuchLease(std::string_view lease_id) {
  return NotFound("exec lease " + std::string(lease_id) + " does not exist",
                  "list leases with `vox populi leases`");
}

Status IllegalTransition(const mesh::ExecLease& lease, std::string_view action) {
  return FailedPrecondition("cannot " + std::string(action) + " exec lease " + lease.lease_id +
                                ": it is " + std::string(mesh::ToString(lease.state)),
                            "grant a new lease on " + lease.scope_key);
}

Status WrongHolder(const mesh::ExecLease& lease, std::string_view holder) {
  return Conflict("exec lease " + lease.lease_id + " is held by " + lease.holder_node_id +
                      ", not " + std::string(holder),
                  "only the holder may do this");
}

bool Active(const mesh::ExecLease& lease) {
  return !mesh::IsTerminal(lease.state);
}

}  // namespace

Status PgWriteTxn::LockScope(std::string_view scope_key) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt lock, db_.Prepare("SELECT pg_advisory_xact_lock(hashtextextended(?, 7))::text"));
  lock.Bind(1, scope_key);
  return lock.Run();
}

Result<mesh::ExecLease> PgWriteTxn::EndLease(mesh::ExecLease lease, mesh::LeaseState state,
                                             int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db_.Prepare("UPDATE exec_leases SET state = ?, ended_ms = ? WHERE lease_id = ?"));
  stmt.Bind(1, mesh::ToString(state)).Bind(2, now_ms).Bind(3, lease.lease_id);
  POPULI_RETURN_IF_ERROR(stmt.Run());
  lease.state = state;
  lease.ended_ms = now_ms;
  return lease;
}

Result<mesh::ExecLease> PgWriteTxn::LiveLeaseOrRefuse(std::string_view lease_id,
                                                      std::string_view action, int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::ExecLease> lease, QueryLease(db_, lease_id));
  if (!lease) return NoSuchLease(lease_id);
  POPULI_RETURN_IF_ERROR(LockScope(lease->scope_key));
  POPULI_ASSIGN_OR_RETURN(lease, QueryLease(db_, lease_id));  // as of the lock
  if (!lease) return NoSuchLease(lease_id);
  if (!Active(*lease)) return IllegalTransition(*lease, action);
  if (lease->expires_ms <= now_ms) {
    return FailedPrecondition(
        "cannot " + std::string(action) + " exec lease " + lease->lease_id + ": it expired",
        "grant a new lease on " + lease->scope_key);
  }
  return *lease;
}

Result<mesh::ExecLease> PgWriteTxn::GrantLease(std::string_view scope_key, std::string_view holder,
                                               int64_t ttl_ms, int64_t now_ms) {
  if (scope_key.empty() || scope_key.size() > 2048) {
    return InvalidArgument("lease scope_key must be 1..2048 bytes",
                           "give a scope key of 1 to 2048 bytes");
  }
  if (holder.empty())
    return InvalidArgument("lease holder node id is empty", "name the node that holds the lease");
  if (ttl_ms <= 0)
    return InvalidArgument("lease ttl must be positive", "omit ttl_ms for the default");
  POPULI_RETURN_IF_ERROR(LockScope(scope_key));
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::ExecLease> current, QueryActiveLease(db_, scope_key));
  if (current) {
    if (current->expires_ms > now_ms) {
      if (current->holder_node_id != holder) {
        return Conflict("scope " + std::string(scope_key) + " is leased to " +
                            current->holder_node_id + " until " +
                            std::to_string(current->expires_ms),
                        "wait for the lease to end or revoke it");
      }
      return RenewLease(current->lease_id, holder, ttl_ms, now_ms);
    }
    POPULI_RETURN_IF_ERROR(EndLease(*current, mesh::LeaseState::kExpired, now_ms).status());
  }
  // The counter row outlives every lease row (retention never deletes it), so a token is never
  // handed out twice for one scope, across restarts and retention.
  POPULI_ASSIGN_OR_RETURN(
      Stmt counter, db_.Prepare("INSERT INTO fencing_counters(scope_key, last_token) VALUES (?, 1) "
                                "ON CONFLICT(scope_key) DO UPDATE SET "
                                "last_token = fencing_counters.last_token + 1 "
                                "RETURNING last_token"));
  counter.Bind(1, scope_key);
  POPULI_ASSIGN_OR_RETURN(bool row, counter.Step());
  if (!row) return Internal("fencing counter update returned no row", "run vox populi store check");
  mesh::ExecLease lease;
  lease.fencing_token = counter.Int(0);
  POPULI_RETURN_IF_ERROR(counter.Run());
  lease.lease_id = RandomHex(16);
  lease.scope_key = std::string(scope_key);
  lease.holder_node_id = std::string(holder);
  lease.state = mesh::LeaseState::kGranted;
  lease.granted_ms = now_ms;
  lease.expires_ms = now_ms + ttl_ms;
  POPULI_ASSIGN_OR_RETURN(
      Stmt insert,
      db_.Prepare("INSERT INTO exec_leases(lease_id, scope_key, holder_node_id, fencing_token, "
                  "state, granted_ms, renewed_ms, expires_ms, ended_ms, schema_version) "
                  "VALUES (?, ?, ?, ?, 'granted', ?, 0, ?, 0, ?)"));
  insert.Bind(1, lease.lease_id)
      .Bind(2, lease.scope_key)
      .Bind(3, lease.holder_node_id)
      .Bind(4, lease.fencing_token)
      .Bind(5, lease.granted_ms)
      .Bind(6, lease.expires_ms)
      .Bind(7, int64_t{mesh::kRecordSchemaVersion});
  POPULI_RETURN_IF_ERROR(insert.Run());
  return lease;
}

Result<mesh::ExecLease> PgWriteTxn::RenewLease(std::string_view lease_id, std::string_view holder,
                                               int64_t ttl_ms, int64_t now_ms) {
  if (ttl_ms <= 0)
    return InvalidArgument("lease ttl must be positive", "omit ttl_ms for the default");
  POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, LiveLeaseOrRefuse(lease_id, "renew", now_ms));
  if (lease.holder_node_id != holder) return WrongHolder(lease, holder);
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db_.Prepare("UPDATE exec_leases SET state = 'renewed', renewed_ms = ?, "
                                      "expires_ms = ? WHERE lease_id = ?"));
  stmt.Bind(1, now_ms).Bind(2, now_ms + ttl_ms).Bind(3, lease.lease_id);
  POPULI_RETURN_IF_ERROR(stmt.Run());
  lease.state = mesh::LeaseState::kRenewed;
  lease.renewed_ms = now_ms;
  lease.expires_ms = now_ms + ttl_ms;
  return lease;
}

Result<mesh::ExecLease> PgWriteTxn::ReleaseLease(std::string_view lease_id, std::string_view holder,
                                                 int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, LiveLeaseOrRefuse(lease_id, "release", now_ms));
  if (lease.holder_node_id != holder) return WrongHolder(lease, holder);
  return EndLease(std::move(lease), mesh::LeaseState::kReleased, now_ms);
}

Result<mesh::ExecLease> PgWriteTxn::CompleteLease(std::string_view lease_id,
                                                  std::string_view holder, int64_t fencing_token,
                                                  int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, LiveLeaseOrRefuse(lease_id, "complete", now_ms));
  if (lease.holder_node_id != holder) return WrongHolder(lease, holder);
  if (lease.fencing_token != fencing_token) {
    return Conflict("stale fencing token " + std::to_string(fencing_token) + " for exec lease " +
                        lease.lease_id + " (current " + std::to_string(lease.fencing_token) + ")",
                    "a newer lease superseded this one; drop the result");
  }
  return EndLease(std::move(lease), mesh::LeaseState::kCompleted, now_ms);
}

Result<mesh::ExecLease> PgWriteTxn::RevokeLease(std::string_view lease_id, int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::ExecLease> lease, QueryLease(db_, lease_id));
  if (!lease) return NoSuchLease(lease_id);
  POPULI_RETURN_IF_ERROR(LockScope(lease->scope_key));
  POPULI_ASSIGN_OR_RETURN(lease, QueryLease(db_, lease_id));  // as of the lock
  if (!lease) return NoSuchLease(lease_id);
  if (!Active(*lease)) return IllegalTransition(*lease, "revoke");
  return EndLease(std::move(*lease), mesh::LeaseState::kRevoked, now_ms);
}

// One statement: each row is re-checked under its row lock, so a lease another replica renewed
// or ended meanwhile is left alone.
Result<std::vector<mesh::ExecLease>> PgWriteTxn::ExpireLeases(int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt, db_.Prepare(std::string("UPDATE exec_leases SET state = 'expired', ended_ms = ?1 "
                                         "WHERE state IN ('granted', 'renewed') AND "
                                         "expires_ms <= ?1 RETURNING ") +
                             kLeaseColumns));
  stmt.Bind(1, now_ms);
  std::vector<mesh::ExecLease> expired;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, ReadLease(stmt));
    expired.push_back(std::move(lease));
  }
  return expired;
}

}  // namespace populi::store::postgres
