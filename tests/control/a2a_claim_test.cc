#include <mutex>
#include <set>
#include <thread>

#include "a2a_fixture.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

TEST_F(A2ATest, DeliverClaimAckHappyPath) {
  Join("worker-1");
  const int64_t id = Deliver("worker-1", {{"payload", "{\"n\":1}"}});
  ASSERT_GT(id, 0);
  Reply c = Claim("worker-1", "worker-1");
  ASSERT_EQ(c.status, 200) << c.raw.body;
  ASSERT_EQ(Ids(c), std::vector<int64_t>{id});
  const auto& m = c.obj().at("messages").as_array()[0];
  EXPECT_EQ(m.at("state"), "claimed");
  EXPECT_EQ(m.at("claimer_node_id"), "worker-1");
  EXPECT_EQ(m.at("payload"), "{\"n\":1}");
  Reply renew = Post("/v1/populi/a2a/lease-renew", json::object{{"receiver", "worker-1"},
                                                                {"message_id", id},
                                                                {"claimer_node_id", "worker-1"},
                                                                {"claim_token", TokenOf(c)}});
  EXPECT_EQ(renew.status, 200) << renew.raw.body;
  Reply ack =
      Post("/v1/populi/a2a/ack",
           json::object{{"receiver", "worker-1"}, {"message_id", id}, {"claim_token", TokenOf(c)}});
  ASSERT_EQ(ack.status, 200) << ack.raw.body;
  EXPECT_EQ(ack.obj().at("acked").as_array().size(), 1u);
  EXPECT_TRUE(Ids(Claim("worker-1", "worker-1")).empty());
}

TEST_F(A2ATest, UnknownClaimerIs403AndRenewErrors) {
  Deliver("r1");
  EXPECT_EQ(Claim("r1", "ghost").status, 403);
  Join("a");
  Join("b");
  const int64_t id = Deliver("r1");
  Reply c = Claim("r1", "a", 10);
  ASSERT_EQ(c.status, 200);
  auto renew = [&](const std::string& claimer, int64_t mid) {
    return Post("/v1/populi/a2a/lease-renew", json::object{{"receiver", "r1"},
                                                           {"message_id", mid},
                                                           {"claimer_node_id", claimer},
                                                           {"claim_token", TokenOf(c)}})
        .status;
  };
  EXPECT_EQ(renew("b", id), 409);
  EXPECT_EQ(renew("a", 999), 404);
  EXPECT_EQ(renew("ghost", id), 403);
  EXPECT_EQ(
      Post("/v1/populi/a2a/ack", json::object{{"receiver", "r1"}, {"message_id", 999}}).status,
      404);
}

TEST_F(A2ATest, LapsedClaimsReturnToTheInbox) {
  Join("a");
  Join("b");
  const int64_t id = Deliver("r1");
  ASSERT_EQ(
      Ids(Post("/v1/populi/a2a/inbox",
               json::object{{"receiver", "r1"}, {"claimer_node_id", "a"}, {"lease_ms", 1000}})),
      std::vector<int64_t>{id});
  EXPECT_TRUE(Ids(Claim("r1", "b")).empty());
  clock_.Advance(1001);
  auto sweep = plane_->SweepOnce();
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(Ids(Claim("r1", "b")), std::vector<int64_t>{id});
}

TEST_F(A2ATest, BatchedClaimAndAck) {
  Join("w");
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Deliver("w"));
  Reply c = Claim("w", "w", 10);
  ASSERT_EQ(Ids(c).size(), 4u);
  json::array arr;
  for (int64_t id : ids) arr.push_back(id);
  Reply ack =
      Post("/v1/populi/a2a/ack",
           json::object{{"receiver", "w"}, {"message_ids", arr}, {"claim_token", TokenOf(c)}});
  ASSERT_EQ(ack.status, 200);
  EXPECT_EQ(ack.obj().at("acked").as_array().size(), 4u);
}

TEST_F(A2ATest, AClaimAcknowledgesWhatItFinishedInTheSameCall) {
  Join("w");
  const int64_t first = Deliver("w");
  const int64_t second = Deliver("w");
  Reply claim = Claim("w", "w");
  ASSERT_EQ(Ids(claim), std::vector<int64_t>{first});
  Reply next = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"},
                                                         {"claimer_node_id", "w"},
                                                         {"ack_message_ids", json::array{first}},
                                                         {"ack_claim_token", TokenOf(claim)}});
  ASSERT_EQ(next.status, 200) << next.raw.body;
  EXPECT_EQ(Ids(next), std::vector<int64_t>{second});
  EXPECT_EQ(next.obj().at("acked"), (json::array{first}));
  // Only the second is still in the inbox; an unknown id is skipped, not an error.
  Reply page = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"}});
  EXPECT_EQ(Ids(page), std::vector<int64_t>{second});
  Reply unknown =
      Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"},
                                                {"claimer_node_id", "w"},
                                                {"ack_message_ids", json::array{second, 999}},
                                                {"ack_claim_token", TokenOf(next)}});
  ASSERT_EQ(unknown.status, 200) << unknown.raw.body;
  EXPECT_EQ(unknown.obj().at("acked"), (json::array{second}));
  EXPECT_TRUE(Ids(unknown).empty());
  // A claim that acknowledges nothing answers without the field.
  EXPECT_FALSE(Claim("w", "w").obj().contains("acked"));
}

TEST_F(A2ATest, AcknowledgingInAClaimNeedsAClaimerAndAtMost1024Ids) {
  const int64_t id = Deliver("w");
  Reply no_claimer = Post("/v1/populi/a2a/inbox",
                          json::object{{"receiver", "w"}, {"ack_message_ids", json::array{id}}});
  EXPECT_EQ(no_claimer.status, 400);
  EXPECT_NE(no_claimer.raw.body.find("claimer_node_id"), std::string::npos);
  Reply bad = PostRaw("/v1/populi/a2a/inbox",
                      R"({"receiver":"w","claimer_node_id":"w","ack_message_ids":["x"]})");
  EXPECT_EQ(bad.status, 400);
  Join("w");
  json::array many;
  for (int i = 1; i <= 1025; ++i) many.push_back(i);
  Reply too_many =
      Post("/v1/populi/a2a/inbox",
           json::object{{"receiver", "w"}, {"claimer_node_id", "w"}, {"ack_message_ids", many}});
  EXPECT_EQ(too_many.status, 413);
  Reply page = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"}});
  EXPECT_EQ(Ids(page), std::vector<int64_t>{id});  // nothing acknowledged by a refused request
}

TEST_F(A2ATest, ANodeInMaintenanceStillAcknowledgesButClaimsNothing) {
  Join("n1");
  const int64_t id = Deliver("n1");
  Deliver("n1");
  Reply claim = Claim("n1", "n1");
  ASSERT_EQ(Ids(claim), std::vector<int64_t>{id});
  Post("/v1/populi/admin/maintenance", json::object{{"node_id", "n1"}, {"for_ms", 60'000}});
  Reply r = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "n1"},
                                                      {"claimer_node_id", "n1"},
                                                      {"ack_message_ids", json::array{id}},
                                                      {"ack_claim_token", TokenOf(claim)}});
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_TRUE(Ids(r).empty());
  EXPECT_EQ(r.obj().at("acked"), (json::array{id}));
}

TEST_F(A2ATest, ALongPollingClaimCommitsItsAcknowledgementsBeforeItWaits) {
  Join("w");
  const int64_t first = Deliver("w");
  Reply claim = Claim("w", "w");
  ASSERT_EQ(Ids(claim), std::vector<int64_t>{first});
  http::Request req;
  const http::Route* route =
      RouteFor(req, "/v1/populi/a2a/inbox",
               R"({"receiver":"w","claimer_node_id":"w","wait_ms":100000,"ack_message_ids":[)" +
                   std::to_string(first) + R"(],"ack_claim_token":")" + TokenOf(claim) + "\"}");
  ASSERT_NE(route, nullptr);
  http::Response r = route->handler(req);
  // A claim that may wait reads the store, so it leaves the I/O thread for the handler pool.
  ASSERT_TRUE(r.on_pool);
  r = r.on_pool(req);
  ASSERT_TRUE(r.long_poll);
  // Acknowledged already, while the claim waits.
  EXPECT_TRUE(Ids(Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"}})).empty());
  EXPECT_FALSE(r.long_poll->poll().has_value());
  const int64_t second = Deliver("w");
  auto ready = r.long_poll->poll();
  ASSERT_TRUE(ready.has_value());
  auto body = json::parse(ready->body).as_object();
  ASSERT_EQ(body.at("messages").as_array().size(), 1u);
  EXPECT_EQ(body.at("messages").as_array()[0].at("id").as_int64(), second);
  EXPECT_EQ(body.at("acked"), (json::array{first}));
}

// The hot routes start on the I/O thread and answer through the store's completion without a
// pool hop; a body too large to decode there, a listing and a waiting claim go to the pool.
TEST_F(A2ATest, TwoConcurrentClaimersClaimEachOfAThousandMessagesOnce) {
  Join("a");
  Join("b");
  for (int i = 0; i < 1000; ++i) {
    // Bypass the cap of this fixture by delivering straight to the store.
    ASSERT_TRUE(store_
                    ->Write([&](store::WriteTxn& txn) -> Status {
                      mesh::NewMessage m;
                      m.sender = "s";
                      m.receiver = "shared";
                      m.message_type = "task_submit";
                      return txn.Deliver(m, clock_.NowMs()).status();
                    })
                    .ok());
  }
  std::mutex mu;
  std::multiset<int64_t> seen;
  auto worker = [&](const std::string& claimer) {
    for (;;) {
      Reply r = Claim("shared", claimer, 7);
      ASSERT_EQ(r.status, 200);
      auto ids = Ids(r);
      if (ids.empty()) return;
      {
        std::lock_guard lock(mu);
        seen.insert(ids.begin(), ids.end());
      }
      // Acknowledge like a worker does (a claimer re-claiming sees its own unacked rows again).
      json::array arr(ids.begin(), ids.end());
      Reply ack = Post(
          "/v1/populi/a2a/ack",
          json::object{{"receiver", "shared"}, {"message_ids", arr}, {"claim_token", TokenOf(r)}});
      ASSERT_EQ(ack.status, 200);
    }
  };
  std::thread ta(worker, "a");
  std::thread tb(worker, "b");
  ta.join();
  tb.join();
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 1000u);
}

TEST_F(A2ATest, OnlyTheClaimsOwnTokenEndsOrExtendsIt) {
  Join("a");
  Join("b");
  const int64_t id = Deliver("r1");
  Reply claim = Claim("r1", "a");
  ASSERT_EQ(Ids(claim), std::vector<int64_t>{id});
  const std::string token = TokenOf(claim);
  ASSERT_EQ(token.size(), 32u);

  // A listing shows the claimed row but never its token.
  Reply page = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}});
  ASSERT_EQ(Ids(page), std::vector<int64_t>{id});
  EXPECT_FALSE(page.obj().at("messages").as_array()[0].as_object().contains("claim_token"));

  // Another caller allowed the route cannot acknowledge under a's live claim, with no token or
  // a guessed one; the message stays claimed by a.
  Reply bare = Post("/v1/populi/a2a/ack", json::object{{"receiver", "r1"}, {"message_id", id}});
  EXPECT_EQ(bare.status, 409) << bare.raw.body;
  EXPECT_EQ(bare.obj().at("error").at("code"), "conflict");
  EXPECT_NE(bare.obj().at("error").at("hint").as_string(), "");
  Reply guessed = Post("/v1/populi/a2a/ack", json::object{{"receiver", "r1"},
                                                          {"message_ids", json::array{id}},
                                                          {"claim_token", std::string(32, 'a')}});
  ASSERT_EQ(guessed.status, 200) << guessed.raw.body;
  EXPECT_TRUE(guessed.obj().at("acked").as_array().empty());
  EXPECT_EQ(guessed.obj().at("fenced"), (json::array{id}));
  // Nor renew it: the claimer's id is not enough without the token.
  Reply renew = Post("/v1/populi/a2a/lease-renew", json::object{{"receiver", "r1"},
                                                                {"message_id", id},
                                                                {"claimer_node_id", "a"},
                                                                {"claim_token", "0000"}});
  EXPECT_EQ(renew.status, 409) << renew.raw.body;
  Reply no_token =
      Post("/v1/populi/a2a/lease-renew",
           json::object{{"receiver", "r1"}, {"message_id", id}, {"claimer_node_id", "a"}});
  EXPECT_EQ(no_token.status, 400);
  EXPECT_NE(no_token.raw.body.find("claim_token"), std::string::npos);
  // b may not claim it meanwhile; a acknowledges with its token.
  EXPECT_TRUE(Ids(Claim("r1", "b")).empty());
  Reply ack = Post("/v1/populi/a2a/ack",
                   json::object{{"receiver", "r1"}, {"message_id", id}, {"claim_token", token}});
  ASSERT_EQ(ack.status, 200) << ack.raw.body;
  EXPECT_EQ(ack.obj().at("acked"), (json::array{id}));
}

TEST_F(A2ATest, AReclaimFencesOffTheEarlierIncarnationOfTheSameClaimer) {
  Join("w");
  const int64_t id = Deliver("w");
  Reply before = Claim("w", "w");  // a worker that then restarts, keeping its node id
  Reply after = Claim("w", "w");   // the restarted worker gets its live claim again
  ASSERT_EQ(Ids(after), std::vector<int64_t>{id});
  ASSERT_NE(TokenOf(after), TokenOf(before));
  // The earlier life's acknowledgement in a claim is skipped, not an error; the row stays held.
  Reply stale = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"},
                                                          {"claimer_node_id", "w"},
                                                          {"ack_message_ids", json::array{id}},
                                                          {"ack_claim_token", TokenOf(before)}});
  ASSERT_EQ(stale.status, 200) << stale.raw.body;
  EXPECT_TRUE(stale.obj().at("acked").as_array().empty());
  EXPECT_EQ(Ids(stale), std::vector<int64_t>{id});  // re-claimed, under yet another token
  Reply ack =
      Post("/v1/populi/a2a/ack",
           json::object{{"receiver", "w"}, {"message_id", id}, {"claim_token", TokenOf(stale)}});
  EXPECT_EQ(ack.status, 200) << ack.raw.body;
}

}  // namespace
}  // namespace populi::control::testing
