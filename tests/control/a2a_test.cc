#include <atomic>
#include <set>
#include <thread>

#include "fixture.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

class A2ATest : public ApiFixture {
 protected:
  ControlOptions Options() override {
    ControlOptions o = ApiFixture::Options();
    o.inbox_cap = 5;
    return o;
  }
  Reply Claim(const std::string& receiver, const std::string& claimer, int max = 1) {
    return Post(
        "/v1/populi/a2a/inbox",
        json::object{{"receiver", receiver}, {"claimer_node_id", claimer}, {"max_messages", max}});
  }
  std::vector<int64_t> Ids(const Reply& r) {
    std::vector<int64_t> ids;
    for (const auto& m : r.obj().at("messages").as_array()) ids.push_back(m.at("id").as_int64());
    return ids;
  }
};

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
  Reply renew = Post(
      "/v1/populi/a2a/lease-renew",
      json::object{{"receiver", "worker-1"}, {"message_id", id}, {"claimer_node_id", "worker-1"}});
  EXPECT_EQ(renew.status, 200) << renew.raw.body;
  Reply ack =
      Post("/v1/populi/a2a/ack", json::object{{"receiver", "worker-1"}, {"message_id", id}});
  ASSERT_EQ(ack.status, 200) << ack.raw.body;
  EXPECT_EQ(ack.obj().at("acked").as_array().size(), 1u);
  EXPECT_TRUE(Ids(Claim("worker-1", "worker-1")).empty());
}

TEST_F(A2ATest, IdempotentDeliverReturnsTheSameId) {
  const int64_t a = Deliver("r1", {{"idempotency_key", "k"}});
  Reply again = Post("/v1/populi/a2a/deliver", json::object{{"sender", "submitter-1"},
                                                            {"receiver", "r1"},
                                                            {"message_type", "task_submit"},
                                                            {"idempotency_key", "k"}});
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.obj().at("message_id").as_int64(), a);
  EXPECT_EQ(again.obj().at("duplicate"), true);
}

TEST_F(A2ATest, InboxPagesNewestFirstWithCursor) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Deliver("r1"));
  Reply p1 = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}, {"max_messages", 2}});
  ASSERT_EQ(p1.status, 200);
  EXPECT_EQ(Ids(p1), (std::vector<int64_t>{ids[4], ids[3]}));
  const int64_t cursor = p1.obj().at("next_before_message_id").as_int64();
  Reply p2 =
      Post("/v1/populi/a2a/inbox",
           json::object{{"receiver", "r1"}, {"max_messages", 2}, {"before_message_id", cursor}});
  EXPECT_EQ(Ids(p2), (std::vector<int64_t>{ids[2], ids[1]}));
}

TEST_F(A2ATest, MaxMessagesOutsideOneTo256IsRefusedNamingTheField) {
  Deliver("r1");
  for (int64_t bad : {-1, 0, 257, 300, 100000}) {
    Reply r = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}, {"max_messages", bad}});
    EXPECT_EQ(r.status, 400) << bad;
    const auto& error = r.obj().at("error").as_object();
    EXPECT_NE(std::string(error.at("message").as_string()).find("max_messages"), std::string::npos);
    EXPECT_FALSE(error.at("hint").as_string().empty());
  }
  for (int64_t good : {1, 256}) {
    EXPECT_EQ(Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}, {"max_messages", good}})
                  .status,
              200)
        << good;
  }
}

TEST_F(A2ATest, ListingWithoutAClaimerShowsOnlyWhatTheCallerCouldClaim) {
  const int64_t pub = Deliver("r1", {{"privacy_class", "public"}});
  const int64_t priv = Deliver("r1", {{"privacy_class", "private"}});
  const int64_t trusted = Deliver("r1", {{"privacy_class", "trusted_only"}});
  ASSERT_EQ(Join("donor", {{"visibility", "public"}}).status, 200);
  ASSERT_EQ(Join("home", {{"visibility", "private"}}).status, 200);

  // An admin (the operator) sees every row.
  EXPECT_EQ(Ids(Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}})),
            (std::vector<int64_t>{trusted, priv, pub}));
  caller_role_ = http::Role::kWorker;
  caller_headers_ = {{"x-vox-node-id", "donor"}};
  EXPECT_EQ(Ids(Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}})),
            (std::vector<int64_t>{pub}));
  caller_headers_ = {{"x-vox-node-id", "home"}};
  EXPECT_EQ(Ids(Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}})),
            (std::vector<int64_t>{trusted, priv, pub}));
  caller_headers_.clear();  // no node: public work only
  EXPECT_EQ(Ids(Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}})),
            (std::vector<int64_t>{pub}));
  // A hidden row still advances the cursor: a page of 1 holding a hidden row is not the end.
  caller_headers_ = {{"x-vox-node-id", "donor"}};
  Reply page = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}, {"max_messages", 1}});
  EXPECT_TRUE(Ids(page).empty());
  EXPECT_EQ(page.obj().at("next_before_message_id").as_int64(), trusted);
}

TEST_F(A2ATest, InboxCapAnswers429WithRetryAndNeverEvicts) {
  for (int i = 0; i < 5; ++i) Deliver("r1");
  Reply full =
      Post("/v1/populi/a2a/deliver",
           json::object{{"sender", "s"}, {"receiver", "r1"}, {"message_type", "task_submit"}});
  EXPECT_EQ(full.status, 429);
  EXPECT_EQ(ErrorCode(full), "resource_exhausted");
  bool retry_after = false;
  for (const auto& [k, v] : full.raw.headers) retry_after |= (k == "retry-after");
  EXPECT_TRUE(retry_after);
  Reply page = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}});
  EXPECT_EQ(page.obj().at("messages").as_array().size(), 5u);
  EXPECT_EQ(Deliver("r2") > 0, true);  // other receivers are unaffected
}

TEST_F(A2ATest, UnlabelledMessageIsClaimableByUnlabelledNode) {
  Join("n1");                        // defaults: visibility private, trust trusted
  const int64_t id = Deliver("n1");  // default privacy private
  EXPECT_EQ(Ids(Claim("n1", "n1")), std::vector<int64_t>{id});
}

TEST_F(A2ATest, PrivacyClassVersusVisibilityAndTrust) {
  Join("donor", {{"visibility", "public"}});
  Join("newbie", {{"trust_tier", "new"}});
  const int64_t priv = Deliver("q", {{"privacy_class", "private"}});
  EXPECT_TRUE(Ids(Claim("q", "donor")).empty());  // public donors take public work only
  const int64_t pub = Deliver("q", {{"privacy_class", "public"}, {"priority", 200}});
  EXPECT_EQ(Ids(Claim("q", "donor")), std::vector<int64_t>{pub});
  const int64_t only = Deliver("q", {{"privacy_class", "trusted_only"}, {"priority", 255}});
  EXPECT_EQ(Ids(Claim("q", "newbie")), std::vector<int64_t>{priv});  // skips trusted_only
  Join("veteran");
  EXPECT_EQ(Ids(Claim("q", "veteran")), std::vector<int64_t>{only});
}

TEST_F(A2ATest, QuarantinedAndMaintenanceNodesGetNothing) {
  Join("n1");
  Deliver("n1");
  ASSERT_EQ(Post("/v1/populi/admin/quarantine", json::object{{"node_id", "n1"}}).status, 200);
  EXPECT_TRUE(Ids(Claim("n1", "n1")).empty());
  Post("/v1/populi/admin/quarantine", json::object{{"node_id", "n1"}, {"on", false}});
  Post("/v1/populi/admin/maintenance", json::object{{"node_id", "n1"}, {"for_ms", 60'000}});
  EXPECT_TRUE(Ids(Claim("n1", "n1")).empty());
  clock_.Advance(60'000);  // the window ends on the control plane's clock
  EXPECT_EQ(Ids(Claim("n1", "n1")).size(), 1u);
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
    return Post("/v1/populi/a2a/lease-renew",
                json::object{{"receiver", "r1"}, {"message_id", mid}, {"claimer_node_id", claimer}})
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
  Reply ack = Post("/v1/populi/a2a/ack", json::object{{"receiver", "w"}, {"message_ids", arr}});
  ASSERT_EQ(ack.status, 200);
  EXPECT_EQ(ack.obj().at("acked").as_array().size(), 4u);
}

json::object BatchMessage(const std::string& receiver, const std::string& key = {}) {
  json::object m{
      {"sender", "submitter-1"}, {"receiver", receiver}, {"message_type", "task_submit"}};
  if (!key.empty()) m["idempotency_key"] = key;
  return m;
}

TEST_F(A2ATest, DeliverBatchAnswersEachMessageInOrder) {
  const int64_t earlier = Deliver("r1", {{"idempotency_key", "k1"}});
  json::array batch{BatchMessage("r1"), BatchMessage("r1", "k1"), BatchMessage("r2", "k2"),
                    BatchMessage("r2", "k2")};
  Reply r = Post("/v1/populi/a2a/deliver-batch", json::object{{"messages", batch}});
  ASSERT_EQ(r.status, 200) << r.raw.body;
  const auto& results = r.obj().at("results").as_array();
  ASSERT_EQ(results.size(), 4u);
  const int64_t fresh = results[0].at("message_id").as_int64();
  EXPECT_GT(fresh, earlier);
  EXPECT_EQ(results[0].at("duplicate"), false);
  // A key delivered before, and a key repeated inside the batch, answer with the first id.
  EXPECT_EQ(results[1].at("message_id").as_int64(), earlier);
  EXPECT_EQ(results[1].at("duplicate"), true);
  EXPECT_EQ(results[2].at("duplicate"), false);
  EXPECT_EQ(results[3].at("message_id").as_int64(), results[2].at("message_id").as_int64());
  EXPECT_EQ(results[3].at("duplicate"), true);
  Reply r1 = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r1"}});
  EXPECT_EQ(Ids(r1), (std::vector<int64_t>{fresh, earlier}));
  Reply r2 = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "r2"}});
  EXPECT_EQ(Ids(r2).size(), 1u);
}

TEST_F(A2ATest, DeliverBatchStoresAllOrNothing) {
  for (int i = 0; i < 3; ++i) Deliver("r1");
  auto pending = [&](const std::string& receiver) {
    Reply page = Post("/v1/populi/a2a/inbox", json::object{{"receiver", receiver}});
    return page.obj().at("messages").as_array().size();
  };
  // One bad element refuses the batch and names it.
  json::object bad = BatchMessage("r2");
  bad["priority"] = 300;
  Reply invalid = Post("/v1/populi/a2a/deliver-batch",
                       json::object{{"messages", json::array{BatchMessage("r2"), bad}}});
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(std::string(invalid.obj().at("error").at("message").as_string()).find("messages[1]"),
            std::string::npos)
      << invalid.raw.body;
  EXPECT_EQ(pending("r2"), 0u);
  // Three more would take r1 past its cap of five: nothing is stored, r2's message included.
  Reply full =
      Post("/v1/populi/a2a/deliver-batch",
           json::object{{"messages", json::array{BatchMessage("r2"), BatchMessage("r1"),
                                                 BatchMessage("r1"), BatchMessage("r1")}}});
  EXPECT_EQ(full.status, 429);
  EXPECT_EQ(ErrorCode(full), "resource_exhausted");
  EXPECT_EQ(pending("r1"), 3u);
  EXPECT_EQ(pending("r2"), 0u);
  // Two fit.
  Reply fits =
      Post("/v1/populi/a2a/deliver-batch",
           json::object{{"messages", json::array{BatchMessage("r1"), BatchMessage("r1")}}});
  EXPECT_EQ(fits.status, 200) << fits.raw.body;
  EXPECT_EQ(pending("r1"), 5u);
}

TEST_F(A2ATest, DeliverBatchRefusesEmptyMissingAndOversizedLists) {
  Reply empty = Post("/v1/populi/a2a/deliver-batch", json::object{{"messages", json::array{}}});
  EXPECT_EQ(empty.status, 400);
  Reply missing = Post("/v1/populi/a2a/deliver-batch", json::object{});
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(std::string(missing.obj().at("error").at("message").as_string()).find("messages"),
            std::string::npos);
  Reply not_list = PostRaw("/v1/populi/a2a/deliver-batch", R"({"messages":{"a":1}})");
  EXPECT_EQ(not_list.status, 400);
  json::array many;
  for (int i = 0; i < 257; ++i) many.push_back(BatchMessage("r" + std::to_string(i)));
  Reply too_many = Post("/v1/populi/a2a/deliver-batch", json::object{{"messages", many}});
  EXPECT_EQ(too_many.status, 413);
  EXPECT_EQ(Get("/health").status, 200);
}

TEST_F(A2ATest, AClaimAcknowledgesWhatItFinishedInTheSameCall) {
  Join("w");
  const int64_t first = Deliver("w");
  const int64_t second = Deliver("w");
  ASSERT_EQ(Ids(Claim("w", "w")), std::vector<int64_t>{first});
  Reply next = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"},
                                                         {"claimer_node_id", "w"},
                                                         {"ack_message_ids", json::array{first}}});
  ASSERT_EQ(next.status, 200) << next.raw.body;
  EXPECT_EQ(Ids(next), std::vector<int64_t>{second});
  EXPECT_EQ(next.obj().at("acked"), (json::array{first}));
  // Only the second is still in the inbox; an unknown id is skipped, not an error.
  Reply page = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"}});
  EXPECT_EQ(Ids(page), std::vector<int64_t>{second});
  Reply unknown =
      Post("/v1/populi/a2a/inbox", json::object{{"receiver", "w"},
                                                {"claimer_node_id", "w"},
                                                {"ack_message_ids", json::array{second, 999}}});
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
  ASSERT_EQ(Ids(Claim("n1", "n1")), std::vector<int64_t>{id});
  Post("/v1/populi/admin/maintenance", json::object{{"node_id", "n1"}, {"for_ms", 60'000}});
  Reply r = Post("/v1/populi/a2a/inbox", json::object{{"receiver", "n1"},
                                                      {"claimer_node_id", "n1"},
                                                      {"ack_message_ids", json::array{id}}});
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_TRUE(Ids(r).empty());
  EXPECT_EQ(r.obj().at("acked"), (json::array{id}));
}

TEST_F(A2ATest, ALongPollingClaimCommitsItsAcknowledgementsBeforeItWaits) {
  Join("w");
  const int64_t first = Deliver("w");
  ASSERT_EQ(Ids(Claim("w", "w")), std::vector<int64_t>{first});
  http::Request req;
  const http::Route* route =
      RouteFor(req, "/v1/populi/a2a/inbox",
               R"({"receiver":"w","claimer_node_id":"w","wait_ms":100000,"ack_message_ids":[)" +
                   std::to_string(first) + "]}");
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
TEST_F(A2ATest, HotRoutesStartOnTheIoThreadAndHandOffWhatMayWait) {
  Join("w");
  auto start = [&](const std::string& path, std::string body) {
    http::Request req;
    const http::Route* route = RouteFor(req, path, std::move(body));
    if (route == nullptr) return http::Response{};
    EXPECT_TRUE(route->runs_inline) << path;
    return route->handler(req);
  };
  const std::string small =
      R"({"sender":"s","receiver":"w","message_type":"task_submit","payload":"{}"})";
  http::Response deliver = start("/v1/populi/a2a/deliver", small);
  EXPECT_TRUE(deliver.completion);
  EXPECT_FALSE(deliver.on_pool);
  const std::string large = R"({"sender":"s","receiver":"w","message_type":"task_submit",)"
                            R"("payload":")" +
                            std::string(100 * 1024, 'x') + R"("})";
  http::Response big = start("/v1/populi/a2a/deliver", large);
  EXPECT_TRUE(big.on_pool);
  EXPECT_FALSE(big.completion);
  http::Response claim = start("/v1/populi/a2a/inbox", R"({"receiver":"w","claimer_node_id":"w"})");
  EXPECT_TRUE(claim.completion);
  EXPECT_FALSE(claim.on_pool);
  EXPECT_TRUE(start("/v1/populi/a2a/inbox", R"({"receiver":"w"})").on_pool);
  EXPECT_TRUE(start("/v1/populi/a2a/ack", R"({"receiver":"w","message_id":1})").completion);
  // Every started write is answered (the fixture waits for each before the next test).
  for (http::Response* r : {&deliver, &claim}) {
    std::promise<int> status;
    auto got = status.get_future();
    r->completion->OnComplete([&status](http::Response done) { status.set_value(done.status); });
    EXPECT_EQ(got.get(), 200);
  }
}

TEST_F(A2ATest, LongPollIsDeferredWhenEmpty) {
  Join("w");
  http::Request req;
  const http::Route* route = RouteFor(req, "/v1/populi/a2a/inbox",
                                      R"({"receiver":"w","claimer_node_id":"w","wait_ms":100000})");
  ASSERT_NE(route, nullptr);
  http::Response r = route->handler(req);
  // A claim that may wait reads the store, so it leaves the I/O thread for the handler pool.
  ASSERT_TRUE(r.on_pool);
  r = r.on_pool(req);
  ASSERT_TRUE(r.long_poll);
  EXPECT_EQ(r.long_poll->topic, "inbox:w");
  EXPECT_FALSE(r.long_poll->poll().has_value());
  const int64_t id = Deliver("w");
  auto ready = r.long_poll->poll();
  ASSERT_TRUE(ready.has_value());
  EXPECT_NE(ready->body.find("\"id\":" + std::to_string(id)), std::string::npos);
  EXPECT_EQ(r.long_poll->on_timeout().status, 200);
}

TEST_F(A2ATest, BadInputIsA400WithTheFieldNamed) {
  struct Case {
    const char* body;
    const char* needle;
  } cases[] = {
      {R"({"sender":"s","receiver":"r","message_type":"nope"})", "message_type"},
      {R"({"sender":"s","receiver":"r","message_type":"task_submit","priority":300})", "priority"},
      {R"({"sender":"s","receiver":"r","message_type":"task_submit","priority":"hi"})", "priority"},
      {R"({"sender":"s","receiver":"r","message_type":"task_submit","privacy_class":"x"})",
       "privacy_class"},
      {R"({"sender":"s","receiver":"r","message_type":"task_submit","task_kind":"x"})",
       "task_kind"},
      {R"({"sender":"s","receiver":"r","message_type":"task_submit","traceparent":"00-x"})",
       "traceparent"},
      {R"({"sender":"s","receiver":"bad id","message_type":"task_submit"})", "receiver"},
      {R"({"sender":"s","receiver":"r","message_type":"task_submit","payload":7})", "payload"},
      {R"({"sender":"s","receiver":"r","message_type":"task_submit","priority":1e999})",
       "priority"},
      {"[1,2", "JSON"},
      {"\"just a string\"", "object"},
  };
  for (const auto& c : cases) {
    Reply r = PostRaw("/v1/populi/a2a/deliver", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    if (r.status == 400) {
      const auto msg = std::string(r.obj().at("error").at("message").as_string());
      EXPECT_NE(msg.find(c.needle), std::string::npos) << msg;
      EXPECT_FALSE(r.obj().at("error").at("hint").as_string().empty());
    }
  }
  std::string bad_utf8 = R"({"sender":"s","receiver":"r","message_type":"task_submit","payload":")";
  bad_utf8 += "\xc3\x28\"}";
  EXPECT_EQ(PostRaw("/v1/populi/a2a/deliver", bad_utf8).status, 400);
  std::string deep(10000, '[');
  EXPECT_EQ(PostRaw("/v1/populi/a2a/deliver", deep + std::string(10000, ']')).status, 400);
  EXPECT_EQ(Get("/health").status, 200);  // still serving
}

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
      Reply ack =
          Post("/v1/populi/a2a/ack", json::object{{"receiver", "shared"}, {"message_ids", arr}});
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

TEST_F(A2ATest, RestartBetweenDeliverAndClaimLosesNothing) {
  Join("w");
  const int64_t id = Deliver("w");
  Restart();
  EXPECT_EQ(Ids(Claim("w", "w")), std::vector<int64_t>{id});
}

}  // namespace
}  // namespace populi::control::testing
