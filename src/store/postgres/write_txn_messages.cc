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
  // Candidates are read a page at a time (keyset on priority DESC, id ASC), each page locked.
  int64_t after_priority = 256;
  int64_t after_id = 0;
  // Rows held by other claimers never reach this loop (the query skips them), so a page of
  // max_messages usually suffices; an eligibility filter may reject a few, and the loop pages on.
  const int64_t page = req.max_messages + (req.eligible ? std::max(1, req.max_messages / 4) : 0);
  while (static_cast<int>(claimed.size()) < req.max_messages) {
    std::vector<mesh::A2AMessage> candidates;
    {
      POPULI_ASSIGN_OR_RETURN(
          Stmt stmt,
          db_.Prepare("SELECT "s + kMessageColumns +
                      " FROM messages WHERE receiver = ?1 AND state IN ('pending', 'claimed') "
                      "AND (priority < ?2 OR (priority = ?2 AND id > ?3)) "
                      "AND (claim_expires_ms <= ?5 OR claimer_node_id = ?6) "
                      "ORDER BY priority DESC, id ASC LIMIT ?4 FOR UPDATE SKIP LOCKED"));
      stmt.Bind(1, req.receiver)
          .Bind(2, after_priority)
          .Bind(3, after_id)
          .Bind(4, page)
          .Bind(5, req.now_ms)
          .Bind(6, req.claimer_node_id);
      while (true) {
        POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        POPULI_ASSIGN_OR_RETURN(mesh::A2AMessage message, ReadMessage(stmt));
        candidates.push_back(std::move(message));
      }
    }
    if (candidates.empty()) break;
    after_priority = candidates.back().priority;
    after_id = candidates.back().id;
    for (mesh::A2AMessage& m : candidates) {
      if (static_cast<int>(claimed.size()) >= req.max_messages) break;
      const bool claimed_live =
          m.state == mesh::MessageState::kClaimed && m.claim_expires_ms > req.now_ms;
      const bool mine = claimed_live && m.claimer_node_id == req.claimer_node_id;
      if (claimed_live && !mine) continue;
      if (req.eligible && !req.eligible(m)) continue;
      if (!mine && m.delivery_count >= req.max_deliveries) {
        POPULI_ASSIGN_OR_RETURN(
            Stmt dead, db_.Prepare("UPDATE messages SET state = 'dead_letter', claimer_node_id = "
                                   "'', claim_expires_ms = 0, claim_token = '', finished_ms = ? "
                                   "WHERE id = ?"));
        dead.Bind(1, req.now_ms).Bind(2, m.id);
        POPULI_RETURN_IF_ERROR(dead.Run());
        continue;
      }
      POPULI_ASSIGN_OR_RETURN(
          Stmt update, db_.Prepare("UPDATE messages SET state = 'claimed', claimer_node_id = ?, "
                                   "claim_expires_ms = ?, claim_token = ?, "
                                   "delivery_count = delivery_count + ? WHERE id = ?"));
      update.Bind(1, req.claimer_node_id)
          .Bind(2, req.now_ms + req.lease_ms)
          .Bind(3, token)
          .Bind(4, int64_t{mine ? 0 : 1})
          .Bind(5, m.id);
      POPULI_RETURN_IF_ERROR(update.Run());
      m.state = mesh::MessageState::kClaimed;
      m.claimer_node_id = req.claimer_node_id;
      m.claim_expires_ms = req.now_ms + req.lease_ms;
      m.claim_token = token;
      if (!mine) ++m.delivery_count;
      claimed.push_back(std::move(m));
    }
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
