// The restore path: messages and leases inserted verbatim (legacy import, store copies).
#include <algorithm>
#include <string>

#include "store/sqlite/queries.h"
#include "store/sqlite/row_codec.h"
#include "store/sqlite/write_txn.h"

namespace populi::store::sqlite {

Result<bool> SqliteWriteTxn::ImportMessage(const mesh::A2AMessage& m, int64_t finished_ms) {
  if (m.id <= 0)
    return InvalidArgument("imported message id must be positive",
                           "check the export file; ids there are positive");
  if (m.sender.empty() || m.receiver.empty()) {
    return InvalidArgument(
        "imported message " + std::to_string(m.id) + " needs a sender and a receiver",
        "check the export file; every message names both");
  }
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::A2AMessage> existing, QueryMessage(db_, m.id));
  if (existing) return false;
  const bool finished =
      m.state == mesh::MessageState::kAcked || m.state == mesh::MessageState::kDeadLetter;
  static const std::string kInsert =
      std::string("INSERT INTO messages(id, ") + kNewMessageColumns +
      ", created_ms, state, claimer_node_id, claim_expires_ms, delivery_count, acked_ms, "
      "finished_ms, schema_version, claim_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?)";
  POPULI_ASSIGN_OR_RETURN(Stmt insert, db_.Prepare(kInsert));
  insert.Bind(1, m.id);
  BindNewMessage(insert, 2, m);
  const bool claimed = m.state == mesh::MessageState::kClaimed;
  constexpr int kNext = kNewMessageColumnCount + 2;
  insert.Bind(kNext, m.created_ms)
      .Bind(kNext + 1, mesh::ToString(m.state))
      .Bind(kNext + 2, claimed ? m.claimer_node_id : std::string())
      .Bind(kNext + 3, claimed ? m.claim_expires_ms : 0)
      .Bind(kNext + 4, int64_t{m.delivery_count})
      .Bind(kNext + 5, m.acked_ms)
      .Bind(kNext + 6, !finished         ? 0
                       : finished_ms > 0 ? finished_ms
                                         : std::max(m.acked_ms, m.created_ms))
      .Bind(kNext + 7, int64_t{mesh::kRecordSchemaVersion})
      .Bind(kNext + 8, claimed ? m.claim_token : std::string());
  POPULI_RETURN_IF_ERROR(insert.Run());
  if (!finished) pending_.Add(m.receiver, 1);
  return true;
}

Result<bool> SqliteWriteTxn::ImportLease(const mesh::ExecLease& lease) {
  if (lease.lease_id.empty() || lease.scope_key.empty() || lease.holder_node_id.empty()) {
    return InvalidArgument("imported lease needs a lease id, scope key and holder",
                           "check the export file; every lease names all three");
  }
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::ExecLease> existing, QueryLease(db_, lease.lease_id));
  if (existing) return false;
  int64_t token = lease.fencing_token;
  {
    POPULI_ASSIGN_OR_RETURN(
        Stmt counter,
        db_.Prepare("INSERT INTO fencing_counters(scope_key, last_token) VALUES (?1, max(?2, 1)) "
                    "ON CONFLICT(scope_key) DO UPDATE SET last_token = CASE WHEN ?2 = 0 THEN "
                    "last_token + 1 ELSE max(last_token, ?2) END RETURNING last_token"));
    counter.Bind(1, lease.scope_key).Bind(2, token);
    POPULI_ASSIGN_OR_RETURN(bool row, counter.Step());
    if (!row)
      return Internal("fencing counter update returned no row", "run vox populi store check");
    if (token == 0) token = counter.Int(0);
    POPULI_RETURN_IF_ERROR(counter.Run());
  }
  POPULI_ASSIGN_OR_RETURN(
      Stmt insert,
      db_.Prepare("INSERT INTO exec_leases(lease_id, scope_key, holder_node_id, fencing_token, "
                  "state, granted_ms, renewed_ms, expires_ms, ended_ms, schema_version) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  insert.Bind(1, lease.lease_id)
      .Bind(2, lease.scope_key)
      .Bind(3, lease.holder_node_id)
      .Bind(4, token)
      .Bind(5, mesh::ToString(lease.state))
      .Bind(6, lease.granted_ms)
      .Bind(7, lease.renewed_ms)
      .Bind(8, lease.expires_ms)
      .Bind(9, lease.ended_ms)
      .Bind(10, int64_t{mesh::kRecordSchemaVersion});
  Status status = insert.Run();
  if (status.code() == Code::kConflict) {
    return Conflict("imported lease " + lease.lease_id + " is live but scope " + lease.scope_key +
                        " already has a live lease",
                    "end one of the two leases first");
  }
  POPULI_RETURN_IF_ERROR(status);
  return true;
}

}  // namespace populi::store::sqlite
