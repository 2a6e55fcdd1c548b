#include <atomic>
#include <set>
#include <thread>

#include "a2a_fixture.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

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

TEST_F(A2ATest, RestartBetweenDeliverAndClaimLosesNothing) {
  Join("w");
  const int64_t id = Deliver("w");
  Restart();
  EXPECT_EQ(Ids(Claim("w", "w")), std::vector<int64_t>{id});
}

}  // namespace
}  // namespace populi::control::testing
