// A2A inbox: POST /v1/populi/a2a/{deliver,inbox,ack,lease-renew}.
#include <boost/json.hpp>

#include "control/api/routes.h"
#include "mesh/validate.h"
#include "util/clock.h"

namespace populi::control {
namespace json = boost::json;
namespace {

constexpr int kDefaultPage = 64;
constexpr int kMaxPage = 256;

std::string InboxTopic(const std::string& receiver) {
  return "inbox:" + receiver;
}

http::Response MessagesResponse(const std::vector<mesh::A2AMessage>& messages, int page_limit,
                                bool claimed) {
  json::array arr;
  for (const auto& m : messages) arr.push_back(mesh::ToJson(m));
  json::object o{{"messages", std::move(arr)}};
  if (!claimed && !messages.empty() && static_cast<int>(messages.size()) >= page_limit)
    o["next_before_message_id"] = messages.back().id;  // newest first: the last is the oldest
  return Json(o);
}

http::Response Deliver(ApiContext& ctx, http::Request& req) {
  auto msg = DecodeBody(req, mesh::NewMessageFromJson);
  if (!msg.ok()) return Error(msg.status(), req);
  if (Status s = mesh::ValidateNewMessage(*msg, ctx.options.limits); !s.ok()) return Error(s, req);
  auto pending = ctx.store.CountPending(msg->receiver);
  if (!pending.ok()) return Error(pending.status(), req);
  if (*pending >= ctx.options.inbox_cap) {
    // Never evict unacknowledged rows to make room: the sender retries later.
    http::Response r = Error(Status(Code::kResourceExhausted,
                                    "inbox of " + msg->receiver + " is full (" +
                                        std::to_string(*pending) + " pending messages)",
                                    "retry after the receiver acknowledges; raise "
                                    "mesh.control.inbox_cap if this is the normal load"),
                             req);
    r.SetHeader("retry-after", "1");
    return r;
  }
  // The commit is awaited without a thread: the answer is built when the store reports the
  // write durable (on a store thread, which must only format and hand it over).
  const int64_t now = ctx.NowMs();
  auto message = std::make_shared<mesh::NewMessage>(std::move(*msg));
  auto result = std::make_shared<store::DeliverResult>();
  auto completion = std::make_shared<http::Completion>();
  ctx.store.SubmitWrite(
      [message, result, now](store::WriteTxn& txn) -> Status {
        POPULI_ASSIGN_OR_RETURN(*result, txn.Deliver(*message, now));
        return Status::Ok();
      },
      [&ctx, message, result, completion, request_id = req.request_id](Status s) {
        if (!s.ok()) {
          completion->Complete(http::ErrorResponse(s, request_id));
          return;
        }
        if (!result->duplicate) ctx.Notify(InboxTopic(message->receiver));
        completion->Complete(Json(json::object{{"accepted", true},
                                               {"message_id", result->message_id},
                                               {"duplicate", result->duplicate}}));
      });
  return http::Deferred(std::move(completion));
}

// One attempt at answering an inbox request; nullopt when there is nothing yet.
std::optional<http::Response> InboxAttempt(ApiContext& ctx, const mesh::InboxRequest& q,
                                           const http::Request& req, bool final_attempt) {
  const int limit = std::clamp(
      q.max_messages > 0 ? q.max_messages : (q.claimer_node_id.empty() ? kDefaultPage : 1), 1,
      kMaxPage);
  if (q.claimer_node_id.empty()) {
    store::InboxQuery query;
    query.receiver = q.receiver;
    query.before_id = q.before_message_id;
    query.limit = limit;
    auto rows = ctx.store.ListInbox(query);
    if (!rows.ok()) return Error(rows.status(), req);
    if (rows->empty() && !final_attempt) return std::nullopt;
    return MessagesResponse(*rows, limit, false);
  }
  auto node = ctx.store.GetNode(q.claimer_node_id);
  if (!node.ok()) return Error(node.status(), req);
  const int64_t now = ctx.NowMs();
  if (!*node) {
    return Error(Status(Code::kPermissionDenied,
                        "claimer " + q.claimer_node_id + " has not joined this mesh",
                        "POST /v1/populi/join before claiming"),
                 req);
  }
  if ((*node)->quarantined || mesh::InMaintenance(**node, now)) {
    // Quarantined and maintenance nodes get nothing (an empty page, not an error, so an agent
    // keeps polling and resumes when the flag clears).
    if (!final_attempt) return std::nullopt;
    return MessagesResponse({}, limit, true);
  }
  store::ClaimRequest claim;
  claim.receiver = q.receiver;
  claim.claimer_node_id = q.claimer_node_id;
  claim.max_messages = limit;
  claim.lease_ms = ClampLeaseMs(q.lease_ms, ctx.options.a2a_claim_ttl_ms);
  claim.now_ms = now;
  claim.max_deliveries = ctx.options.a2a_max_deliveries;
  mesh::NodeRecord claimer = **node;
  claim.eligible = [claimer](const mesh::A2AMessage& m) {
    return mesh::PrivacyAllows(m.privacy_class, claimer);
  };
  std::vector<mesh::A2AMessage> claimed;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(claimed, txn.Claim(claim));
    return Status::Ok();
  });
  if (!s.ok()) return Error(s, req);
  if (claimed.empty() && !final_attempt) return std::nullopt;
  return MessagesResponse(claimed, limit, true);
}

http::Response Inbox(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(req, mesh::InboxRequestFromJson);
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateId("receiver", q->receiver); !s.ok()) return Error(s, req);
  if (!q->claimer_node_id.empty()) {
    if (Status s = mesh::ValidateId("claimer_node_id", q->claimer_node_id); !s.ok())
      return Error(s, req);
  }
  const int64_t wait = std::min(q->wait_ms, ctx.options.long_poll_max_ms);
  if (auto first = InboxAttempt(ctx, *q, req, wait <= 0)) return std::move(*first);

  // Nothing yet: park the request; the server re-polls when the receiver's inbox is notified.
  auto poll = std::make_shared<http::LongPoll>();
  poll->topic = InboxTopic(q->receiver);
  poll->deadline_ms = SystemClock::Instance().MonotonicMs() + wait;
  http::Request copy = req;
  mesh::InboxRequest query = *q;
  poll->poll = [&ctx, query, copy]() { return InboxAttempt(ctx, query, copy, false); };
  poll->on_timeout = [&ctx, query, copy]() { return *InboxAttempt(ctx, query, copy, true); };
  http::Response r;
  r.long_poll = std::move(poll);
  return r;
}

http::Response Ack(ApiContext& ctx, http::Request& req) {
  auto q = DecodeBody(req, mesh::AckRequestFromJson);
  if (!q.ok()) return Error(q.status(), req);
  if (Status s = mesh::ValidateId("receiver", q->receiver); !s.ok()) return Error(s, req);
  if (q->message_ids.size() > 1024) {
    return Error(Status(Code::kTooLarge, "at most 1024 message_ids per ack",
                        "split the acknowledgement into several requests"),
                 req);
  }
  const bool single = q->message_ids.empty();
  auto ack = std::make_shared<mesh::AckRequest>(std::move(*q));
  if (single) ack->message_ids = {ack->message_id};
  const int64_t now = ctx.NowMs();
  auto acked = std::make_shared<std::vector<int64_t>>();
  auto completion = std::make_shared<http::Completion>();
  ctx.store.SubmitWrite(
      [ack, acked, now](store::WriteTxn& txn) -> Status {
        POPULI_ASSIGN_OR_RETURN(*acked, txn.Ack(ack->receiver, ack->message_ids, now));
        return Status::Ok();
      },
      [ack, acked, completion, request_id = req.request_id](Status s) {
        if (s.code() == Code::kNotFound) {
          s = NotFound("message " + std::to_string(ack->message_id) + " is not in the inbox of " +
                           ack->receiver,
                       "check the receiver and the id returned by deliver");
        }
        if (!s.ok()) {
          completion->Complete(http::ErrorResponse(s, request_id));
          return;
        }
        json::array arr;
        for (int64_t id : *acked) arr.push_back(id);
        completion->Complete(Json(json::object{{"acked", std::move(arr)}}));
      });
  return http::Deferred(std::move(completion));
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
    return txn.RenewClaim(q->receiver, q->message_id, q->claimer_node_id, lease_ms, now);
  });
  if (!s.ok()) return Error(s, req);
  return Json(json::object{{"message_id", q->message_id}, {"claim_expires_ms", now + lease_ms}});
}

}  // namespace

void AddA2ARoutes(http::Router& router, ApiContext& ctx) {
  const size_t deliver_limit = ctx.options.limits.max_payload_bytes * 2 + 64 * 1024;
  router.Add({http::Method::kPost, "/v1/populi/a2a/deliver", DeliverRoles(), deliver_limit,
              "a2a.deliver", [&ctx](http::Request& req) { return Deliver(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/a2a/inbox", NodePlaneRoles(), 4 * 1024, "a2a.inbox",
              [&ctx](http::Request& req) { return Inbox(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/a2a/ack", NodePlaneRoles(), 64 * 1024, "a2a.ack",
              [&ctx](http::Request& req) { return Ack(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/a2a/lease-renew", NodePlaneRoles(), 4 * 1024,
              "a2a.lease_renew", [&ctx](http::Request& req) { return RenewClaim(ctx, req); }});
}

}  // namespace populi::control
