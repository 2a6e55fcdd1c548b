// Conformance: A2A messages (idempotency, paging, claim/renew/ack/sweep/dead-letter).
#include <set>

#include "store/conformance.h"

namespace populi::store::testing {
namespace {

using mesh::MessageState;

TEST_P(StoreConformance, DeliverIsIdempotentWhilePending) {
  auto first = Deliver(Msg("a", "b", "k1"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->duplicate);
  auto again = Deliver(Msg("a", "b", "k1"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message_id, first->message_id);
  EXPECT_EQ(*store_->CountPending("b"), 1);
}

TEST_P(StoreConformance, DeliverIsIdempotentAfterAck) {
  auto first = Deliver(Msg("a", "b", "k1"));
  ASSERT_TRUE(first.ok());
  auto acked = Do<std::vector<int64_t>>(
      [&](WriteTxn& t) { return t.Ack("b", {first->message_id}, "", 2000); });
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  auto again = Deliver(Msg("a", "b", "k1"), 3000);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message_id, first->message_id);
  EXPECT_EQ(*store_->CountPending("b"), 0);
}

TEST_P(StoreConformance, DedupeKeyIsPerSenderReceiverPair) {
  auto base = Deliver(Msg("a", "b", "k"));
  auto other_sender = Deliver(Msg("c", "b", "k"));
  auto other_receiver = Deliver(Msg("a", "d", "k"));
  auto no_key_1 = Deliver(Msg("a", "b"));
  auto no_key_2 = Deliver(Msg("a", "b"));
  std::set<int64_t> ids = {base->message_id, other_sender->message_id, other_receiver->message_id,
                           no_key_1->message_id, no_key_2->message_id};
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_FALSE(no_key_2->duplicate);
}

TEST_P(StoreConformance, InboxPagesNewestFirstWithCursor) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i)
    ids.push_back(Deliver(Msg("s", "r", "k" + std::to_string(i)))->message_id);
  ASSERT_TRUE(Deliver(Msg("s", "elsewhere")).ok());
  std::vector<int64_t> seen;
  InboxQuery q{"r", 0, 3, false};
  for (int page = 0; page < 4; ++page) {
    auto got = store_->ListInbox(q);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (got->empty()) break;
    EXPECT_LE(got->size(), 3u);
    for (const auto& m : *got) seen.push_back(m.id);
    q.before_id = got->back().id;
  }
  std::vector<int64_t> expected(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, expected);
}

TEST_P(StoreConformance, InboxHidesAckedUnlessAsked) {
  auto a = Deliver(Msg("s", "r"));
  auto b = Deliver(Msg("s", "r"));
  ASSERT_TRUE(Do<std::vector<int64_t>>([&](WriteTxn& t) {
                return t.Ack("r", {a->message_id}, "", 5);
              }).ok());
  auto pending = store_->ListInbox({"r", 0, 10, false});
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, b->message_id);
  auto all = store_->ListInbox({"r", 0, 10, true});
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].state, MessageState::kAcked);
  EXPECT_EQ((*all)[1].acked_ms, 5);
}

TEST_P(StoreConformance, ClaimOrdersByPriorityThenAge) {
  auto low = Deliver(Msg("s", "r", "", 10));
  auto high_old = Deliver(Msg("s", "r", "", 200));
  auto high_new = Deliver(Msg("s", "r", "", 200));
  auto mid = Deliver(Msg("s", "r", "", 128));
  ClaimRequest req{"r", "node-1", 3, 1000, 10'000, 10, nullptr};
  auto claimed = Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); });
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  ASSERT_EQ(claimed->size(), 3u);
  EXPECT_EQ((*claimed)[0].id, high_old->message_id);
  EXPECT_EQ((*claimed)[1].id, high_new->message_id);
  EXPECT_EQ((*claimed)[2].id, mid->message_id);
  for (const auto& m : *claimed) {
    EXPECT_EQ(m.state, MessageState::kClaimed);
    EXPECT_EQ(m.claimer_node_id, "node-1");
    EXPECT_EQ(m.claim_expires_ms, 11'000);
    EXPECT_EQ(m.delivery_count, 1);
  }
  auto stored = store_->GetMessage(low->message_id);
  EXPECT_EQ((*stored)->state, MessageState::kPending);
}

TEST_P(StoreConformance, ClaimSkipsOthersLiveClaimsAndRefreshesOwn) {
  auto m = Deliver(Msg("s", "r"));
  ClaimRequest mine{"r", "n1", 5, 1000, 10'000, 10, nullptr};
  ASSERT_EQ(Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(mine); })->size(),
            1u);
  ClaimRequest theirs{"r", "n2", 5, 1000, 10'500, 10, nullptr};
  EXPECT_TRUE(
      Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(theirs); })->empty());
  mine.now_ms = 10'600;
  auto again = Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(mine); });
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].claim_expires_ms, 11'600);
  EXPECT_EQ((*again)[0].delivery_count, 1);  // a refresh is not a new delivery
  theirs.now_ms = 11'600;                    // n1's claim lapsed exactly now
  auto taken = Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(theirs); });
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].id, m->message_id);
  EXPECT_EQ((*taken)[0].claimer_node_id, "n2");
  EXPECT_EQ((*taken)[0].delivery_count, 2);
}

TEST_P(StoreConformance, ClaimHonoursEligibilityFilter) {
  auto pub = Msg("s", "r");
  pub.privacy_class = mesh::PrivacyClass::kPublic;
  auto priv = Msg("s", "r");
  priv.privacy_class = mesh::PrivacyClass::kPrivate;
  auto priv_id = Deliver(priv);
  auto pub_id = Deliver(pub);
  ClaimRequest req{"r", "donor", 5, 1000, 1, 10, [](const mesh::A2AMessage& m) {
                     return m.privacy_class == mesh::PrivacyClass::kPublic;
                   }};
  auto got = Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); });
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, pub_id->message_id);
  EXPECT_EQ((*store_->GetMessage(priv_id->message_id))->state, MessageState::kPending);
}

TEST_P(StoreConformance, RenewClaimRules) {
  auto m = Deliver(Msg("s", "r"));
  const int64_t id = m->message_id;
  std::string token;
  auto renew = [&](std::string_view claimer, int64_t now) {
    return store_->Write(
        [&](WriteTxn& t) { return t.RenewClaim("r", id, claimer, token, 1000, now); });
  };
  EXPECT_EQ(renew("n1", 0).code(), Code::kConflict);  // pending, not claimed by n1
  ClaimRequest req{"r", "n1", 1, 1000, 100, 10, nullptr};
  auto claimed = Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); });
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(renew("n1", 500).code(), Code::kConflict);  // no token
  token = claimed->front().claim_token;
  EXPECT_EQ(renew("n2", 500).code(), Code::kConflict);  // the token, but another claimer
  ASSERT_TRUE(renew("n1", 500).ok());
  EXPECT_EQ((*store_->GetMessage(id))->claim_expires_ms, 1500);
  EXPECT_EQ(renew("n1", 1500).code(), Code::kConflict);  // lapsed
  EXPECT_EQ(store_->Write([&](WriteTxn& t) { return t.RenewClaim("r", 999, "n1", token, 1000, 0); })
                .code(),
            Code::kNotFound);
  EXPECT_EQ(store_->Write([&](WriteTxn& t) { return t.RenewClaim("x", id, "n1", token, 1000, 0); })
                .code(),
            Code::kNotFound);
}

TEST_P(StoreConformance, AckSingleAndBatch) {
  auto a = Deliver(Msg("s", "r"))->message_id;
  auto b = Deliver(Msg("s", "r"))->message_id;
  auto c = Deliver(Msg("s", "r"))->message_id;
  auto single = Do<std::vector<int64_t>>([&](WriteTxn& t) { return t.Ack("r", {a}, "", 7); });
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(*single, std::vector<int64_t>{a});
  EXPECT_EQ(Do<std::vector<int64_t>>([&](WriteTxn& t) { return t.Ack("r", {424242}, "", 7); })
                .status()
                .code(),
            Code::kNotFound);
  EXPECT_EQ(Do<std::vector<int64_t>>([&](WriteTxn& t) { return t.Ack("other", {b}, "", 7); })
                .status()
                .code(),
            Code::kNotFound);
  auto batch = Do<std::vector<int64_t>>([&](WriteTxn& t) {
    return t.Ack("r", {a, b, 999, c}, "", 8);
  });
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(*batch, (std::vector<int64_t>{a, b, c}));
  EXPECT_EQ(*store_->CountPending("r"), 0);
  EXPECT_EQ((*store_->GetMessage(a))->acked_ms, 7);  // a second ack changes nothing
}

TEST_P(StoreConformance, AckOfAClaimedRowIsFencedByItsClaimToken) {
  const int64_t a = Deliver(Msg("s", "r"))->message_id;
  const int64_t b = Deliver(Msg("s", "r"))->message_id;
  ClaimRequest req{"r", "n1", 2, 1000, 100, 10, nullptr};
  auto first = Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); });
  ASSERT_EQ(first->size(), 2u);
  const std::string token = first->front().claim_token;
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(first->back().claim_token, token);  // one claim, one token
  EXPECT_EQ((*store_->GetMessage(a))->claim_token, token);

  // Without the token, or with a made-up one, the claimed row stays claimed.
  auto ack = [&](int64_t id, std::string_view tok) {
    return Do<std::vector<int64_t>>([&](WriteTxn& t) { return t.Ack("r", {id}, tok, 200); });
  };
  EXPECT_EQ(ack(a, "").status().code(), Code::kConflict);
  EXPECT_EQ(ack(a, std::string(32, '0')).status().code(), Code::kConflict);
  EXPECT_EQ((*store_->GetMessage(a))->state, MessageState::kClaimed);
  std::vector<int64_t> fenced;
  auto batch = Do<std::vector<int64_t>>([&](WriteTxn& t) {
    return t.Ack("r", {a, b}, "feed", 200, &fenced);
  });
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->empty());
  EXPECT_EQ(fenced, (std::vector<int64_t>{a, b}));

  // A re-claim by the same claimer mints a new token: the old one no longer ends the claim.
  auto again = Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); });
  ASSERT_EQ(again->size(), 2u);
  const std::string fresh = again->front().claim_token;
  EXPECT_NE(fresh, token);
  EXPECT_EQ(ack(a, token).status().code(), Code::kConflict);
  ASSERT_TRUE(ack(a, fresh).ok());
  EXPECT_EQ((*store_->GetMessage(a))->state, MessageState::kAcked);
  EXPECT_EQ((*store_->GetMessage(a))->claim_token, "");
  EXPECT_TRUE(ack(a, "").ok());  // acknowledged already: idempotent for anyone

  // After the claim lapses and is swept, the row is unclaimed: the stale token is refused, and
  // an ack without a token (as for a row nobody claimed) succeeds.
  ASSERT_TRUE(Do<SweepResult>([&](WriteTxn& t) { return t.SweepExpiredClaims(5000, 10); }).ok());
  EXPECT_EQ((*store_->GetMessage(b))->state, MessageState::kPending);
  EXPECT_EQ((*store_->GetMessage(b))->claim_token, "");
  EXPECT_EQ(ack(b, fresh).status().code(), Code::kConflict);
  EXPECT_TRUE(ack(b, "").ok());
}

TEST_P(StoreConformance, SweepRequeuesLapsedClaimsAndDeadLettersPastMax) {
  auto m1 = Deliver(Msg("s", "r"))->message_id;
  auto m2 = Deliver(Msg("s", "r"))->message_id;
  ClaimRequest req{"r", "n1", 1, 100, 0, 10, nullptr};
  ASSERT_EQ(Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); })->size(),
            1u);
  req.max_messages = 1;
  req.now_ms = 0;
  req.claimer_node_id = "n2";
  ASSERT_EQ(Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); })->size(),
            1u);
  // Both claimed once; sweep at max_deliveries=1 dead-letters neither before expiry ...
  auto early = Do<SweepResult>([&](WriteTxn& t) { return t.SweepExpiredClaims(50, 1); });
  EXPECT_EQ(early->requeued + early->dead_lettered, 0);
  // ... and after expiry dead-letters both (delivery_count 1 >= 1).
  auto late = Do<SweepResult>([&](WriteTxn& t) { return t.SweepExpiredClaims(100, 1); });
  EXPECT_EQ(late->dead_lettered, 2);
  EXPECT_EQ((*store_->GetMessage(m1))->state, MessageState::kDeadLetter);
  EXPECT_EQ((*store_->GetMessage(m2))->state, MessageState::kDeadLetter);
  auto m3 = Deliver(Msg("s", "r"))->message_id;
  req.now_ms = 1000;
  ASSERT_EQ(Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); })->size(),
            1u);
  auto requeue = Do<SweepResult>([&](WriteTxn& t) { return t.SweepExpiredClaims(1100, 5); });
  EXPECT_EQ(requeue->requeued, 1);
  auto back = *store_->GetMessage(m3);
  EXPECT_EQ(back->state, MessageState::kPending);
  EXPECT_EQ(back->claimer_node_id, "");
  EXPECT_EQ(back->delivery_count, 1);
}

TEST_P(StoreConformance, ClaimBeyondMaxDeliveriesDeadLetters) {
  auto id = Deliver(Msg("s", "r"))->message_id;
  int64_t now = 0;
  for (int i = 0; i < 3; ++i) {
    ClaimRequest req{"r", "n" + std::to_string(i), 1, 10, now, 3, nullptr};
    ASSERT_EQ(Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(req); })->size(),
              1u);
    now += 10;  // the claim lapses
  }
  ClaimRequest fourth{"r", "n9", 1, 10, now, 3, nullptr};
  EXPECT_TRUE(
      Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) { return t.Claim(fourth); })->empty());
  auto row = *store_->GetMessage(id);
  EXPECT_EQ(row->state, MessageState::kDeadLetter);
  EXPECT_EQ(row->delivery_count, 3);
  EXPECT_EQ(Do<std::vector<int64_t>>([&](WriteTxn& t) { return t.Ack("r", {id}, "", now); })
                .status()
                .code(),
            Code::kNotFound);
}

TEST_P(StoreConformance, MessageFieldsRoundTrip) {
  auto m = Msg("s", "r", "key");
  m.task_kind = "inference";
  m.model_id = "llama";
  m.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  m.payload_blake3_hex = std::string(64, 'a');
  m.signature_b64 = "c2ln";
  m.jwe_payload = "jwe";
  m.privacy_class = mesh::PrivacyClass::kTrustedOnly;
  auto id = Deliver(m, 42)->message_id;
  auto got = *store_->GetMessage(id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->task_kind, "inference");
  EXPECT_EQ(got->model_id, "llama");
  EXPECT_EQ(got->traceparent, m.traceparent);
  EXPECT_EQ(got->payload_blake3_hex, m.payload_blake3_hex);
  EXPECT_EQ(got->signature_b64, "c2ln");
  EXPECT_EQ(got->jwe_payload, "jwe");
  EXPECT_EQ(got->privacy_class, mesh::PrivacyClass::kTrustedOnly);
  EXPECT_EQ(got->created_ms, 42);
  EXPECT_EQ(got->schema_version, mesh::kRecordSchemaVersion);
  EXPECT_FALSE(store_->GetMessage(id + 100)->has_value());
}

// CountPending answers from counts the store maintains; every way a message enters or leaves
// pending/claimed must move them, a rolled-back write must not, and a reopen must find them again.
TEST_P(StoreConformance, PendingCountFollowsEveryStateChange) {
  auto pending = [&](const std::string& receiver) { return *store_->CountPending(receiver); };
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(Deliver(Msg("s", "r", "k" + std::to_string(i)))->message_id);
  ASSERT_TRUE(Deliver(Msg("s", "x")).ok());
  EXPECT_EQ(pending("r"), 4);
  EXPECT_EQ(pending("x"), 1);
  EXPECT_EQ(pending("nobody"), 0);

  ASSERT_TRUE(Deliver(Msg("s", "r", "k0")).ok());  // a duplicate adds nothing
  EXPECT_EQ(pending("r"), 4);
  Status rolled_back = store_->Write([](WriteTxn& txn) -> Status {
    POPULI_RETURN_IF_ERROR(txn.Deliver(Msg("s", "r", "gone"), 1000).status());
    return Internal("give up after delivering", "a test hint");
  });
  EXPECT_FALSE(rolled_back.ok());
  EXPECT_EQ(pending("r"), 4);

  auto claim = [&](const std::string& claimer, int64_t now, int max_deliveries) {
    return Do<std::vector<mesh::A2AMessage>>([&](WriteTxn& t) {
      return t.Claim(ClaimRequest{"r", claimer, 1, 10, now, max_deliveries, nullptr});
    });
  };
  auto first = claim("n1", 1000, 10);  // claimed rows are still pending
  ASSERT_TRUE(first.ok() && first->size() == 1u);
  EXPECT_EQ(pending("r"), 4);

  ASSERT_TRUE(Do<std::vector<int64_t>>([&](WriteTxn& t) {
                return t.Ack("r", {first->front().id}, first->front().claim_token, 1001);
              }).ok());
  EXPECT_EQ(pending("r"), 3);
  ASSERT_TRUE(Do<std::vector<int64_t>>([&](WriteTxn& t) {
                return t.Ack("r", {first->front().id}, first->front().claim_token, 1002);
              }).ok());
  EXPECT_EQ(pending("r"), 3);  // acknowledging twice finishes it once

  auto second = claim("n1", 2000, 10);  // delivery 1 of the next row, lapses at 2010
  ASSERT_TRUE(second.ok() && second->size() == 1u);
  auto third = claim("n2", 3000, 1);  // past its one delivery: dead-lettered, the next is claimed
  ASSERT_TRUE(third.ok() && third->size() == 1u);
  EXPECT_NE(third->front().id, second->front().id);
  EXPECT_EQ(pending("r"), 2);

  auto swept = Do<SweepResult>([](WriteTxn& t) { return t.SweepExpiredClaims(9000, 1); });
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->dead_lettered, 1);
  EXPECT_EQ(pending("r"), 1);

  Reopen();
  EXPECT_EQ(pending("r"), 1);
  EXPECT_EQ(pending("x"), 1);
}

}  // namespace
}  // namespace populi::store::testing
