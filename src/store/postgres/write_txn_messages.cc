// A2A messages on the writer connection: deliver, claim, renew, ack, sweep. Across replicas a
// claim locks the rows it takes (FOR UPDATE SKIP LOCKED: a row another replica is claiming right
// now is skipped, not waited for), and a deliver whose dedupe key is taken, also by another
// replica's deliver racing it, finds that row (ON CONFLICT DO NOTHING, then a fresh read).
#include <algorithm>
#include <string>

#include "store/postgres/queries.h"
#include "store/postgres/row_codec.h"
#include "store/postgres/write_txn.h"
#include "util/random.h"

namespace populi::store::postgres {

using std::string_literals::operator""s;

Result<DeliverResult> PgWriteTxn::Deliver(const mesh::NewMessage& msg, int64_t now_ms) {
  if (msg.sender.empty() || msg.receiver.empty()) {
    return InvalidArgument("message sender and receiver must be non-empty",
                           "name both the sender and the receiver");
  }
  // The insert first, one round trip for a new message; a key already taken (here or by
  // another replica, committed after this statement began) inserts nothing and is read after.
  static const std::string kInsert =
      std::string("INSERT INTO messages(") + kNewMessageColumns +
      ", created_ms, state, schema_version) VALUES (?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (sender, "
      "receiver, idempotency_key) WHERE idempotency_key <> '' DO "
      "NOTHING RETURNING id";
  POPULI_ASSIGN_OR_RETURN(Stmt insert, db_.Prepare(kInsert));
  BindNewMessage(insert, 1, msg);
  insert.Bind(kNewMessageColumnCount + 1, now_ms)
      .Bind(kNewMessageColumnCount + 2, int64_t{mesh::kRecordSchemaVersion});
  POPULI_ASSIGN_OR_RETURN(bool inserted, insert.Step());
  if (inserted) return DeliverResult{insert.Int(0), false};
  // The key's row answers (a duplicate delivery).
  POPULI_ASSIGN_OR_RETURN(
      Stmt find, db_.Prepare("SELECT id FROM messages WHERE sender = ? AND receiver = ? AND "
                             "idempotency_key = ?"));
  find.Bind(1, msg.sender).Bind(2, msg.receiver).Bind(3, msg.idempotency_key);
  POPULI_ASSIGN_OR_RETURN(bool row, find.Step());
  if (!row) return Internal("dedupe conflict without a row", "retry the delivery");
  return DeliverResult{find.Int(0), true};
}

namespace {

// A row one claim statement took, with what it was before (to put an ineligible one back).
struct ClaimedRow {
  mesh::A2AMessage message;  // as the statement left it
  bool dead = false;         // dead-lettered (too many deliveries) rather than claimed
  std::string old_state, old_claimer, old_token;
  int64_t old_expires_ms = 0, old_delivery_count = 0, old_finished_ms = 0;
};

// kMessageColumns, each qualified with `alias.` (a RETURNING beside a join needs that).
std::string Qualified(std::string_view alias) {
  std::string out;
  std::string_view rest = kMessageColumns;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view col = rest.substr(0, comma);
    while (!col.empty() && col.front() == ' ') col.remove_prefix(1);
    if (!out.empty()) out += ", ";
    out += std::string(alias) + "." + std::string(col);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return out;
}

// One statement per page: the claimable rows after the keyset position, locked (SKIP LOCKED: a
// row another claimer holds locked is passed over, not waited for) and claimed, or
// dead-lettered when they ran out of deliveries (a live claim of the same claimer is renewed
// under the new token and not counted as a delivery).
Result<std::vector<ClaimedRow>> ClaimPage(Conn& db, const ClaimRequest& req,
                                          const std::string& token, int64_t after_priority,
                                          int64_t after_id, int64_t limit) {
  static const std::string kSql =
      "WITH old AS (SELECT id, state, claimer_node_id, claim_expires_ms, claim_token, "
      "delivery_count, finished_ms, (state = 'claimed' AND claim_expires_ms > ?5 AND "
      "claimer_node_id = ?6) AS mine FROM messages WHERE receiver = ?1 AND state IN "
      "('pending', 'claimed') AND (priority < ?2 OR (priority = ?2 AND id > ?3)) AND "
      "(claim_expires_ms <= ?5 OR claimer_node_id = ?6) ORDER BY priority DESC, id ASC "
      "LIMIT ?4 FOR UPDATE SKIP LOCKED), "
      "o AS (SELECT old.*, (NOT mine AND delivery_count >= ?9) AS dead FROM old) "
      "UPDATE messages m SET "
      "state = CASE WHEN o.dead THEN 'dead_letter' ELSE 'claimed' END, "
      "claimer_node_id = CASE WHEN o.dead THEN '' ELSE ?6 END, "
      "claim_expires_ms = CASE WHEN o.dead THEN 0 ELSE ?7::bigint END, "
      "claim_token = CASE WHEN o.dead THEN '' ELSE ?8::text END, "
      "finished_ms = CASE WHEN o.dead THEN ?5 ELSE m.finished_ms END, "
      "delivery_count = m.delivery_count + CASE WHEN o.dead OR o.mine THEN 0 ELSE 1 END "
      "FROM o WHERE m.id = o.id RETURNING " +
      Qualified("m") +
      ", o.dead, o.state, o.claimer_node_id, o.claim_expires_ms, o.claim_token, "
      "o.delivery_count, o.finished_ms";
  constexpr int kExtra = 22;  // the first column after kMessageColumns
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(kSql));
  stmt.Bind(1, req.receiver)
      .Bind(2, after_priority)
      .Bind(3, after_id)
      .Bind(4, limit)
      .Bind(5, req.now_ms)
      .Bind(6, req.claimer_node_id)
      .Bind(7, req.now_ms + req.lease_ms)
      .Bind(8, token)
      .Bind(9, int64_t{req.max_deliveries});
  std::vector<ClaimedRow> rows;
  while (true) {
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ClaimedRow r;
    POPULI_ASSIGN_OR_RETURN(r.message, ReadMessage(stmt));
    r.dead = stmt.Int(kExtra) != 0;
    r.old_state = stmt.Text(kExtra + 1);
    r.old_claimer = stmt.Text(kExtra + 2);
    r.old_expires_ms = stmt.Int(kExtra + 3);
    r.old_token = stmt.Text(kExtra + 4);
    r.old_delivery_count = stmt.Int(kExtra + 5);
    r.old_finished_ms = stmt.Int(kExtra + 6);
    rows.push_back(std::move(r));
  }
  // RETURNING keeps no order: the claim's order is the inbox's.
  std::sort(rows.begin(), rows.end(), [](const ClaimedRow& a, const ClaimedRow& b) {
    if (a.message.priority != b.message.priority) return a.message.priority > b.message.priority;
    return a.message.id < b.message.id;
  });
  return rows;
}

// Puts back a row the claim took that the claimer may not have (still locked by this
// transaction, so nobody saw the change).
Status PutBack(Conn& db, const ClaimedRow& r) {
  POPULI_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("UPDATE messages SET state = ?, claimer_node_id = ?, claim_expires_ms = ?, "
                 "claim_token = ?, delivery_count = ?, finished_ms = ? WHERE id = ?"));
  stmt.Bind(1, r.old_state)
      .Bind(2, r.old_claimer)
      .Bind(3, r.old_expires_ms)
      .Bind(4, r.old_token)
      .Bind(5, r.old_delivery_count)
      .Bind(6, r.old_finished_ms)
      .Bind(7, r.message.id);
  return stmt.Run();
}

}  // namespace

// One statement claims a page (the common case: the whole claim); rows the eligibility filter
// refuses are put back and rows that ran out of deliveries were dead-lettered, and the next
// page is claimed while the claim is short and the last page was full.
Result<std::vector<mesh::A2AMessage>> PgWriteTxn::Claim(const ClaimRequest& req) {
  if (req.receiver.empty() || req.claimer_node_id.empty()) {
    return InvalidArgument("claim needs a receiver and a claimer node id",
                           "name the receiver and the claimer node id");
  }
  if (req.max_messages <= 0 || req.lease_ms <= 0) {
    return InvalidArgument("claim max_messages and lease_ms must be positive",
                           "omit them for the defaults");
  }
  std::vector<mesh::A2AMessage> claimed;
  const std::string token = RandomHex(16);
  int64_t after_priority = 256;  // keyset on priority DESC, id ASC
  int64_t after_id = 0;
  while (static_cast<int>(claimed.size()) < req.max_messages) {
    const int64_t want = req.max_messages - static_cast<int64_t>(claimed.size());
    POPULI_ASSIGN_OR_RETURN(std::vector<ClaimedRow> rows,
                            ClaimPage(db_, req, token, after_priority, after_id, want));
    if (!rows.empty()) {
      after_priority = rows.back().message.priority;
      after_id = rows.back().message.id;
    }
    for (ClaimedRow& r : rows) {
      if (req.eligible && !req.eligible(r.message)) {
        POPULI_RETURN_IF_ERROR(PutBack(db_, r));
      } else if (!r.dead) {
        claimed.push_back(std::move(r.message));
      }
    }
    if (static_cast<int64_t>(rows.size()) < want) break;
  }
  return claimed;
}

Status PgWriteTxn::RenewClaim(std::string_view receiver, int64_t message_id,
                              std::string_view claimer, std::string_view claim_token,
                              int64_t lease_ms, int64_t now_ms) {
  if (lease_ms <= 0) return InvalidArgument("claim lease_ms must be positive", "omit lease_ms");
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::A2AMessage> m, QueryMessage(db_, message_id));
  if (!m || m->receiver != receiver ||
      (m->state != mesh::MessageState::kPending && m->state != mesh::MessageState::kClaimed)) {
    return NotFound(
        "no pending message " + std::to_string(message_id) + " for " + std::string(receiver),
        "it may have been acknowledged or dead-lettered");
  }
  if (m->state != mesh::MessageState::kClaimed || m->claimer_node_id != claimer ||
      m->claim_token != claim_token) {
    return Conflict("message " + std::to_string(message_id) + " is not claimed by " +
                        std::string(claimer) + " under this claim token",
                    "claim it again; only the claim's own token renews it");
  }
  if (m->claim_expires_ms <= now_ms) {
    return Conflict("the claim on message " + std::to_string(message_id) + " lapsed",
                    "claim it again");
  }
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          db_.Prepare("UPDATE messages SET claim_expires_ms = ? WHERE id = ?"));
  stmt.Bind(1, now_ms + lease_ms).Bind(2, message_id);
  return stmt.Run();
}

Result<std::vector<int64_t>> PgWriteTxn::Ack(std::string_view receiver,
                                             const std::vector<int64_t>& ids,
                                             std::string_view claim_token, int64_t now_ms,
                                             std::vector<int64_t>* fenced) {
  std::vector<int64_t> acked;
  for (int64_t id : ids) {
    // The common case first: a live message whose claim (or absence of one) the token matches
    // becomes acknowledged in one statement.
    POPULI_ASSIGN_OR_RETURN(
        Stmt update,
        db_.Prepare("UPDATE messages SET state = 'acked', acked_ms = ?1, finished_ms = ?1, "
                    "claimer_node_id = '', claim_expires_ms = 0, claim_token = '' "
                    "WHERE id = ?2 AND receiver = ?3 AND state IN ('pending', 'claimed') "
                    "AND claim_token = ?4"));
    update.Bind(1, now_ms).Bind(2, id).Bind(3, receiver).Bind(4, claim_token);
    POPULI_RETURN_IF_ERROR(update.Run());
    if (update.Changes() == 1) {
      acked.push_back(id);
      continue;
    }
    POPULI_ASSIGN_OR_RETURN(
        Stmt find, db_.Prepare("SELECT state FROM messages WHERE id = ? AND receiver = ?"));
    find.Bind(1, id).Bind(2, receiver);
    POPULI_ASSIGN_OR_RETURN(bool row, find.Step());
    const std::string state = row ? find.Text(0) : std::string();
    if (state == "acked") {
      acked.push_back(id);
      continue;
    }
    const bool live = state == "pending" || state == "claimed";
    if (live && fenced != nullptr) fenced->push_back(id);
    if (ids.size() != 1) continue;
    if (live) {
      return Conflict("message " + std::to_string(id) + " is held under another claim",
                      claim_token.empty()
                          ? "pass the claim_token your claim returned"
                          : "your claim was superseded or lapsed; claim the message again");
    }
    return NotFound(
        "no message " + std::to_string(id) + " to acknowledge for " + std::string(receiver),
        state == "dead_letter" ? "it was dead-lettered after too many deliveries"
                               : "check the message id and receiver");
  }
  return acked;
}

Result<SweepResult> PgWriteTxn::SweepExpiredClaims(int64_t now_ms, int max_deliveries) {
  SweepResult result;
  POPULI_ASSIGN_OR_RETURN(
      Stmt dead,
      db_.Prepare(
          "UPDATE messages SET state = 'dead_letter', claimer_node_id = '', "
          "claim_expires_ms = 0, claim_token = '', finished_ms = ?1 WHERE state = 'claimed' AND "
          "claim_expires_ms <= ?1 AND delivery_count >= ?2 RETURNING receiver"));
  dead.Bind(1, now_ms).Bind(2, int64_t{max_deliveries});
  for (;;) {
    POPULI_ASSIGN_OR_RETURN(bool row, dead.Step());
    if (!row) break;
    ++result.dead_lettered;
  }
  POPULI_ASSIGN_OR_RETURN(
      Stmt requeue,
      db_.Prepare("UPDATE messages SET state = 'pending', claimer_node_id = '', "
                  "claim_expires_ms = 0, claim_token = '' WHERE state = 'claimed' AND "
                  "claim_expires_ms <= ? RETURNING receiver"));
  requeue.Bind(1, now_ms);
  for (;;) {
    POPULI_ASSIGN_OR_RETURN(bool row, requeue.Step());
    if (!row) break;
    ++result.requeued;
    std::string receiver = requeue.Text(0);
    if (std::find(result.receivers.begin(), result.receivers.end(), receiver) ==
        result.receivers.end()) {
      result.receivers.push_back(std::move(receiver));
    }
  }
  return result;
}

}  // namespace populi::store::postgres
