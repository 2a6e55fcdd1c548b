// A2A inbox: POST /v1/populi/a2a/{deliver,deliver-batch,inbox,ack,lease-renew}.
#include <functional>
#include <map>
#include <optional>
#include <set>

#include <boost/json.hpp>

#include "control/api/routes.h"
#include "mesh/replies_json.h"
#include "mesh/validate.h"
#include "util/clock.h"

namespace populi::control {
namespace json = boost::json;
namespace {

constexpr int kDefaultPage = 64;
constexpr size_t kMaxDeliverBatch = 256;
constexpr size_t kMaxAckIds = 1024;

std::string InboxTopic(const std::string& receiver) {
  return "inbox:" + receiver;
}

// 413 for a list past its limit: "at most <max> <what>".
Status TooMany(size_t max, const std::string& what, const char* hint) {
  return Status(Code::kTooLarge, "at most " + std::to_string(max) + " " + what, hint);
}

// What a claim that acknowledges first (ack_message_ids) acknowledged; answered as "acked".
struct AckedFirst {
  std::vector<int64_t> ids;
};

// `visible` (when set) hides rows the caller may not see; the page cursor still follows every
// row read, so a hidden row never ends the paging early.
http::Response MessagesResponse(const std::vector<mesh::A2AMessage>& messages, int page_limit,
                                bool claimed, const AckedFirst* acked = nullptr,
                                const std::function<bool(const mesh::A2AMessage&)>& visible = {}) {
  mesh::InboxPage page;
  for (const auto& m : messages) {
    if (visible && !visible(m)) continue;
    page.messages.push_back(m);
    // A listing never shows a claim's token: with it, anyone could end that claim.
    if (!claimed) page.messages.back().claim_token.clear();
  }
  if (acked != nullptr) {
    page.acked = acked->ids;
    page.has_acked = true;
  }
  if (!claimed && !messages.empty() && static_cast<int>(messages.size()) >= page_limit)
    page.next_before_message_id = messages.back().id;  // newest first: the last is the oldest
  return Json(mesh::ToJson(page));
}

// 429 when `incoming` more messages would take the receiver's inbox past the cap. Unacknowledged
// rows are never evicted to make room: the sender retries later. On SQLite the count is in
// memory and exact; across replicas it is a query, which the gate skips far below the cap.
std::optional<http::Response> InboxFull(ApiContext& ctx, const std::string& receiver,
                                        int64_t incoming, const http::Request& req) {
  const bool gated = ctx.topics != nullptr;
  if (gated && ctx.inbox_gate.AdmitWithoutCount(receiver, incoming, ctx.NowMs())) {
    return std::nullopt;
  }
  auto pending = ctx.store.CountPending(receiver);
  if (!pending.ok()) return Error(pending.status(), req);
  const bool fits = *pending + incoming <= ctx.options.inbox_cap;
  if (gated) ctx.inbox_gate.Counted(receiver, *pending, fits ? incoming : 0, ctx.NowMs());
  if (fits) return std::nullopt;
  http::Response r = Error(Status(Code::kResourceExhausted,
                                  "inbox of " + receiver + " is full (" + std::to_string(*pending) +
                                      " pending messages)",
                                  "retry after the receiver acknowledges; raise "
                                  "mesh.control.inbox_cap if this is the normal load"),
                           req);
  r.SetHeader("retry-after", "1");
  return r;
}

// Hands `write` to the store and answers once it is durable, without a thread waiting for the
// commit: `answer()` when the write succeeded, the error body otherwise. `answer` runs on a store
// thread, so it must only format (and notify) and never block.
http::Response AnswerOnCommit(ApiContext& ctx, const http::Request& req, store::WriteFn write,
                              std::function<http::Response()> answer) {
  auto completion = std::make_shared<http::Completion>();
  ctx.store.SubmitWrite(std::move(write), [completion, answer = std::move(answer),
                                           request_id = req.request_id](Status s) {
    completion->Complete(s.ok() ? answer() : http::ErrorResponse(s, request_id));
  });
  return http::Deferred(std::move(completion));
}

http::Response Deliver(ApiContext& ctx, http::Request& req) {
  auto msg = DecodeBody(req, mesh::NewMessageFromJson);
  if (!msg.ok()) return Error(msg.status(), req);
  if (Status s = mesh::ValidateNewMessage(*msg, ctx.options.limits); !s.ok()) return Error(s, req);
  if (auto full = InboxFull(ctx, msg->receiver, 1, req)) return std::move(*full);
  const int64_t now = ctx.NowMs();
  // A message without its own trace joins the delivering request's; the claim returns it.
  if (msg->traceparent.empty()) msg->traceparent = req.trace.Traceparent();
  auto message = std::make_shared<mesh::NewMessage>(std::move(*msg));
  auto result = std::make_shared<store::DeliverResult>();
  // The relay of end-to-end secrets is audited (MESH-125): who asked whom, and which sealed
  // share went to which attempt; never a value (the control plane has none).
  std::optional<mesh::AuditRecord> audit;
  if (message->message_type == "secret_request" || message->message_type == "secret_share") {
    audit = AuditOf(
        req, now, message->message_type == "secret_request" ? "secret.requested" : "secret.shared",
        message->receiver,
        {{"sender", message->sender}, {"sealed", !message->jwe_payload.empty()}});
  }
  return AnswerOnCommit(
      ctx, req,
      [message, result, now, audit](store::WriteTxn& txn) -> Status {
        POPULI_ASSIGN_OR_RETURN(*result, txn.Deliver(*message, now));
        if (audit && !result->duplicate) POPULI_RETURN_IF_ERROR(txn.AppendAudit(*audit).status());
        return Status::Ok();
      },
      [&ctx, message, result] {
        if (!result->duplicate) ctx.Notify(InboxTopic(message->receiver));
        mesh::DeliverReply reply;
        reply.message_id = result->message_id;
        reply.duplicate = result->duplicate;
        return Json(mesh::ToJson(reply));
      });
}

// Several messages in one store write: all are stored or none (a bad element, a full inbox or a
// store error refuses the whole batch), each with the answer a single deliver would give.
http::Response DeliverBatch(ApiContext& ctx, http::Request& req) {
  auto batch = DecodeBody(req, mesh::DeliverBatchRequestFromJson);
  if (!batch.ok()) return Error(batch.status(), req);
  if (batch->messages.empty()) {
    return Error(InvalidArgument("messages: give at least one message",
                                 "POST /v1/populi/a2a/deliver takes a single message"),
                 req);
  }
  if (batch->messages.size() > kMaxDeliverBatch) {
    return Error(
        TooMany(kMaxDeliverBatch, "messages per batch", "split the batch into several requests"),
        req);
  }
  std::map<std::string, int64_t> per_receiver;
  for (size_t i = 0; i < batch->messages.size(); ++i) {
    Status s = mesh::ValidateNewMessage(batch->messages[i], ctx.options.limits);
    if (!s.ok()) return Error(s.WithContext("messages[" + std::to_string(i) + "]"), req);
    ++per_receiver[batch->messages[i].receiver];
  }
  for (const auto& [receiver, count] : per_receiver) {
    if (auto full = InboxFull(ctx, receiver, count, req)) return std::move(*full);
  }
  const int64_t now = ctx.NowMs();
  for (auto& m : batch->messages) {
    if (m.traceparent.empty()) m.traceparent = req.trace.Traceparent();
  }
  auto messages = std::make_shared<std::vector<mesh::NewMessage>>(std::move(batch->messages));
  auto results = std::make_shared<std::vector<store::DeliverResult>>();
  return AnswerOnCommit(
      ctx, req,
      [messages, results, now](store::WriteTxn& txn) -> Status {
        results->clear();  // a batch the store runs again starts over
        for (const mesh::NewMessage& m : *messages) {
          POPULI_ASSIGN_OR_RETURN(store::DeliverResult r, txn.Deliver(m, now));
          results->push_back(r);
        }
        return Status::Ok();
      },
      [&ctx, messages, results] {
        std::set<std::string> woken;
        mesh::DeliverBatchReply reply;
        for (size_t i = 0; i < results->size(); ++i) {
          const store::DeliverResult& r = (*results)[i];
          if (!r.duplicate && woken.insert((*messages)[i].receiver).second)
            ctx.Notify(InboxTopic((*messages)[i].receiver));
          reply.results.push_back({r.message_id, r.duplicate});
        }
        return Json(mesh::ToJson(reply));
      });
}

int PageLimit(const mesh::InboxRequest& q) {
  return std::clamp(
      q.max_messages > 0 ? q.max_messages : (q.claimer_node_id.empty() ? kDefaultPage : 1), 1,
      mesh::kMaxInboxPage);
}

// The claim an inbox request with a claimer asks for, given the claimer's record (`node`, read
// by the caller); nullopt when the claimer gets nothing (quarantined or in maintenance: an empty
// page, not an error, so an agent keeps polling and resumes when the flag clears); 403 for a
// claimer that has not joined.
Result<std::optional<store::ClaimRequest>> PlanClaim(const ApiContext& ctx,
                                                     const mesh::InboxRequest& q,
                                                     std::optional<mesh::NodeRecord> node,
                                                     int64_t now) {
  if (!node) {
    return Status(Code::kPermissionDenied,
                  "claimer " + q.claimer_node_id + " has not joined this mesh",
                  "POST /v1/populi/join before claiming");
  }
  if (node->quarantined || mesh::InMaintenance(*node, now)) {
    return std::optional<store::ClaimRequest>();
  }
  store::ClaimRequest claim;
  claim.receiver = q.receiver;
  claim.claimer_node_id = q.claimer_node_id;
  claim.max_messages = PageLimit(q);
  claim.lease_ms = ClampLeaseMs(q.lease_ms, ctx.options.a2a_claim_ttl_ms);
  claim.now_ms = now;
  claim.max_deliveries = ctx.options.a2a_max_deliveries;
  claim.eligible = [claimer = std::move(*node)](const mesh::A2AMessage& m) {
    return mesh::PrivacyAllows(m.privacy_class, claimer);
  };
  return std::optional<store::ClaimRequest>(std::move(claim));
}

// Acknowledges `ids` of `receiver` under `claim_token` as part of a claim: unknown ids and ids
// the token may not end are skipped (as in an ack list), never an error that would cost the claim.
Result<std::vector<int64_t>> AckBeforeClaim(store::WriteTxn& txn, const std::string& receiver,
                                            const std::vector<int64_t>& ids,
                                            const std::string& claim_token, int64_t now) {
  auto acked = txn.Ack(receiver, ids, claim_token, now);
  if (!acked.ok() &&
      (acked.status().code() == Code::kNotFound || acked.status().code() == Code::kConflict)) {
    return std::vector<int64_t>{};
  }
  return acked;
}

// The write of a claim, for both the waiting and the non-waiting path: reads the claimer's
// record, acknowledges q.ack_message_ids first (recording them in `acked`), then claims — one
// transaction, so the claimer's flags are judged with the claim. Starts `claimed` over, as the
// store may run a write again.
Status AckAndClaim(const ApiContext& ctx, store::WriteTxn& txn, const mesh::InboxRequest& q,
                   int64_t now, AckedFirst* acked, std::vector<mesh::A2AMessage>& claimed) {
  claimed.clear();
  POPULI_ASSIGN_OR_RETURN(std::optional<mesh::NodeRecord> node, txn.GetNode(q.claimer_node_id));
  POPULI_ASSIGN_OR_RETURN(std::optional<store::ClaimRequest> claim,
                          PlanClaim(ctx, q, std::move(node), now));
  if (!q.ack_message_ids.empty()) {
    POPULI_ASSIGN_OR_RETURN(
        acked->ids, AckBeforeClaim(txn, q.receiver, q.ack_message_ids, q.ack_claim_token, now));
  }
  if (claim) {
    POPULI_ASSIGN_OR_RETURN(claimed, txn.Claim(*claim));
  }
  return Status::Ok();
}

// Who may see which rows of a listing without a claimer (MESH-134): an admin sees every row;
// any other caller sees what the node it speaks for (x-vox-node-id) could claim under the same
// privacy rule as a claim, and without a joined node only public messages.
Result<std::function<bool(const mesh::A2AMessage&)>> ListingViewer(const ApiContext& ctx,
                                                                   const http::Request& req) {
  if (req.principal.role == http::Role::kAdmin)
    return std::function<bool(const mesh::A2AMessage&)>();
  mesh::NodeRecord viewer;
  viewer.visibility = mesh::Visibility::kPublic;  // a caller that is no node: public work only
  const std::string node_id(req.Header("x-vox-node-id"));
  if (!node_id.empty()) {
    POPULI_ASSIGN_OR_RETURN(std::optional<mesh::NodeRecord> node, ctx.store.GetNode(node_id));
    if (node) viewer = std::move(*node);
  }
  return std::function<bool(const mesh::A2AMessage&)>(
      [viewer = std::move(viewer)](const mesh::A2AMessage& m) {
        return mesh::PrivacyAllows(m.privacy_class, viewer);
      });
}

// One attempt at answering an inbox request; nullopt when there is nothing yet. A claim that
// acknowledges first does so in the same write as its claim, and records what it acknowledged in
// `acked` (the caller drops the ids from later attempts).
std::optional<http::Response> InboxAttempt(ApiContext& ctx, const mesh::InboxRequest& q,
                                           const http::Request& req, bool final_attempt,
                                           const std::shared_ptr<AckedFirst>& acked) {
  const int limit = PageLimit(q);
  if (q.claimer_node_id.empty()) {
    store::InboxQuery query;
    query.receiver = q.receiver;
    query.before_id = q.before_message_id;
    query.limit = limit;
    auto rows = ctx.store.ListInbox(query);
    if (!rows.ok()) return Error(rows.status(), req);
    if (rows->empty() && !final_attempt) return std::nullopt;
    auto viewer = ListingViewer(ctx, req);
    if (!viewer.ok()) return Error(viewer.status(), req);
    return MessagesResponse(*rows, limit, false, nullptr, *viewer);
  }
  const int64_t now = ctx.NowMs();
  std::vector<mesh::A2AMessage> claimed;
  Status s = ctx.store.Write(
      [&](store::WriteTxn& txn) { return AckAndClaim(ctx, txn, q, now, acked.get(), claimed); });
  if (!s.ok()) return Error(s, req);
  if (claimed.empty() && !final_attempt) return std::nullopt;
  return MessagesResponse(claimed, limit, true, acked.get());
}

// A claim that will not wait, started on the I/O thread: its write (AckAndClaim) is handed to
// the store and answered on commit, so no thread waits for it and the I/O thread never reads the
// store (the long-poll path re-polls on the handler pool instead).
http::Response ClaimWithoutWaiting(ApiContext& ctx, mesh::InboxRequest q, const http::Request& req,
                                   std::shared_ptr<AckedFirst> acked) {
  const int limit = PageLimit(q);
  auto query = std::make_shared<mesh::InboxRequest>(std::move(q));
  auto claimed = std::make_shared<std::vector<mesh::A2AMessage>>();
  const int64_t now = ctx.NowMs();
  return AnswerOnCommit(
      ctx, req,
      [&ctx, query, acked, claimed, now](store::WriteTxn& txn) {
        return AckAndClaim(ctx, txn, *query, now, acked.get(), *claimed);
      },
      [acked, claimed, limit] { return MessagesResponse(*claimed, limit, true, acked.get()); });
}

http::Response InboxOnPool(ApiContext& ctx, http::Request& req, mesh::InboxRequest q,
                           std::shared_ptr<AckedFirst> acked);

http::Response Inbox(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(req, mesh::InboxRequestFromJson);
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateId("receiver", q->receiver); !s.ok()) return Error(s, req);
  if (!q->claimer_node_id.empty()) {
    if (Status s = mesh::ValidateId("claimer_node_id", q->claimer_node_id); !s.ok())
      return Error(s, req);
  }
  if (!q->ack_message_ids.empty() && q->claimer_node_id.empty()) {
    return Error(InvalidArgument("ack_message_ids needs claimer_node_id",
                                 "acknowledge with POST /v1/populi/a2a/ack, or claim as well"),
                 req);
  }
  if (q->ack_message_ids.size() > kMaxAckIds) {
    return Error(TooMany(kMaxAckIds, "ack_message_ids per claim",
                         "acknowledge the rest with POST /v1/populi/a2a/ack"),
                 req);
  }
  if (q->hold_liveness && !q->claimer_node_id.empty()) {
    // The agent holds its connection again: a drop noted before (a reconnect within the grace)
    // no longer counts against it, here or, when announced, at the other replicas.
    ctx.dispatch.ConnectionHeld(q->claimer_node_id);
  }
  // Set only when the request acknowledges: its answer then lists what was acknowledged.
  auto acked = q->ack_message_ids.empty() ? nullptr : std::make_shared<AckedFirst>();
  if (std::min(q->wait_ms, ctx.options.long_poll_max_ms) <= 0 && !q->claimer_node_id.empty()) {
    return ClaimWithoutWaiting(ctx, std::move(*q), req, std::move(acked));
  }
  return http::ContinueOnPool(
      [&ctx, query = std::move(*q), acked = std::move(acked)](http::Request& r) mutable {
        return InboxOnPool(ctx, r, std::move(query), std::move(acked));
      });
}

// A listing, or a claim that may wait: reads the store, so it runs on the handler pool.
http::Response InboxOnPool(ApiContext& ctx, http::Request& req, mesh::InboxRequest q,
                           std::shared_ptr<AckedFirst> acked) {
  const int64_t wait = std::min(q.wait_ms, ctx.options.long_poll_max_ms);
  if (auto first = InboxAttempt(ctx, q, req, wait <= 0, acked)) return std::move(*first);

  // Nothing yet: park the request; the server re-polls when the receiver's inbox is notified.
  // The acknowledgements are committed; later attempts only claim.
  auto poll = std::make_shared<http::LongPoll>();
  poll->topic = InboxTopic(q.receiver);
  poll->deadline_ms = SystemClock::Instance().MonotonicMs() + wait;
  if (q.hold_liveness && !q.claimer_node_id.empty()) poll->holder = q.claimer_node_id;
  http::Request copy = req;
  mesh::InboxRequest query = std::move(q);
  query.ack_message_ids.clear();
  poll->poll = [&ctx, query, copy, acked]() {
    return InboxAttempt(ctx, query, copy, false, acked);
  };
  poll->on_timeout = [&ctx, query, copy, acked]() {
    return *InboxAttempt(ctx, query, copy, true, acked);
  };
  http::Response r;
  r.long_poll = std::move(poll);
  return r;
}

http::Response Ack(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(req, mesh::AckRequestFromJson);
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateId("receiver", q->receiver); !s.ok()) return Error(s, req);
  if (q->message_ids.size() > kMaxAckIds) {
    return Error(TooMany(kMaxAckIds, "message_ids per ack",
                         "split the acknowledgement into several requests"),
                 req);
  }
  const bool single = q->message_ids.empty();
  auto ack = std::make_shared<mesh::AckRequest>(std::move(*q));
  if (single) ack->message_ids = {ack->message_id};
  const int64_t now = ctx.NowMs();
  struct Outcome {
    std::vector<int64_t> acked;
    std::vector<int64_t> fenced;
  };
  auto outcome = std::make_shared<Outcome>();
  return AnswerOnCommit(
      ctx, req,
      [ack, outcome, now, single](store::WriteTxn& txn) -> Status {
        outcome->fenced.clear();
        auto done =
            txn.Ack(ack->receiver, ack->message_ids, ack->claim_token, now, &outcome->fenced);
        // The store answers a one-id list as a single ack; the list form skips what it cannot
        // end instead (`fenced` already names a fenced id).
        if (!single && !done.ok() &&
            (done.status().code() == Code::kNotFound || done.status().code() == Code::kConflict)) {
          outcome->acked.clear();
          return Status::Ok();
        }
        if (!done.ok() && done.status().code() == Code::kNotFound) {
          return NotFound("message " + std::to_string(ack->message_id) +
                              " is not in the inbox of " + ack->receiver,
                          "check the receiver and the id returned by deliver");
        }
        POPULI_ASSIGN_OR_RETURN(outcome->acked, std::move(done));
        return Status::Ok();
      },
      [outcome] {
        return Json(mesh::ToJson(mesh::AckReply{outcome->acked, outcome->fenced}));
      });
}

http::Response RenewClaim(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(req, mesh::ClaimRenewRequestFromJson);
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateId("receiver", q->receiver); !s.ok()) return Error(s, req);
  auto node = RequireActiveNode(ctx, q->claimer_node_id, "renew a claim");
  if (!node.ok()) return Error(node.status(), req);
  const int64_t now = ctx.NowMs();
  const int64_t lease_ms = ClampLeaseMs(q->lease_ms, ctx.options.a2a_claim_ttl_ms);
  Status s = ctx.store.Write([&](store::WriteTxn& txn) {
    return txn.RenewClaim(q->receiver, q->message_id, q->claimer_node_id, q->claim_token, lease_ms,
                          now);
  });
  if (!s.ok()) return Error(s, req);
  return Json(mesh::ToJson(mesh::ClaimRenewReply{q->message_id, now + lease_ms}));
}

// Bodies up to this size are decoded on the I/O thread; a larger one would hold that thread (and
// every connection it serves) for the decode, so its handler runs on the pool.
constexpr size_t kInlineBodyBytes = 64 * 1024;

// A handler for a route that runs on the I/O thread: `handle` there when the body is small, else
// on the handler pool. `handle` itself must not wait (see http::Route::runs_inline).
http::Handler SmallBodiesInline(http::Handler handle) {
  return [handle = std::move(handle)](http::Request& req) {
    if (req.body.size() <= kInlineBodyBytes) return handle(req);
    return http::ContinueOnPool(handle);
  };
}

}  // namespace

// deliver, deliver-batch, ack and a claim that does not wait start on the I/O thread: they only
// decode, check the in-memory inbox count and hand one write to the store, answered on commit.
void AddA2ARoutes(http::Router& router, ApiContext& ctx) {
  const size_t deliver_limit = ctx.options.limits.max_payload_bytes * 2 + 64 * 1024;
  constexpr bool kInline = true;
  router.Add(
      {http::Method::kPost, "/v1/populi/a2a/deliver", DeliverRoles(), deliver_limit, "a2a.deliver",
       SmallBodiesInline([&ctx](http::Request& req) { return Deliver(ctx, req); }), kInline});
  // A batch may carry a few messages of the largest size or many small ones.
  router.Add({http::Method::kPost, "/v1/populi/a2a/deliver-batch", DeliverRoles(),
              4 * deliver_limit, "a2a.deliver_batch",
              SmallBodiesInline([&ctx](http::Request& req) { return DeliverBatch(ctx, req); }),
              kInline});
  // Inbox hands listings and waiting claims to the pool itself (InboxOnPool).
  router.Add({http::Method::kPost, "/v1/populi/a2a/inbox", NodePlaneRoles(), 4 * 1024, "a2a.inbox",
              [&ctx](http::Request& req) { return Inbox(ctx, req); }, kInline});
  router.Add({http::Method::kPost, "/v1/populi/a2a/ack", NodePlaneRoles(), 64 * 1024, "a2a.ack",
              SmallBodiesInline([&ctx](http::Request& req) { return Ack(ctx, req); }), kInline});
  router.Add({http::Method::kPost, "/v1/populi/a2a/lease-renew", NodePlaneRoles(), 4 * 1024,
              "a2a.lease_renew", [&ctx](http::Request& req) { return RenewClaim(ctx, req); }});
}

}  // namespace populi::control
