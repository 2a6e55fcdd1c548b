// The control plane behind the real HTTP server on 127.0.0.1:0 with role tokens.
#include <atomic>
#include <thread>

#include "control/http/auth.h"
#include "control/http/server.h"
#include "fixture.h"
#include "http_client.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

const std::pair<http::Role, std::string> kTokens[] = {
    {http::Role::kReadOnly, "read-only-token-0123456789"},
    {http::Role::kSubmitter, "submitter-token-0123456789"},
    {http::Role::kWorker, "worker-token-0123456789abc"},
    {http::Role::kMesh, "mesh-token-0123456789abcdef"},
    {http::Role::kAdmin, "admin-token-0123456789abcd"},
};

class HttpApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    http::AuthConfig config;
    for (const auto& [role, secret] : kTokens)
      config.tokens.push_back({std::string(http::ToString(role)), role, secret});
    auto auth = http::Authenticator::Create(config);
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    auth_ = std::move(*auth);
    http::ServerOptions options;
    options.bind = "127.0.0.1:0";
    options.handler_threads = 8;
    // The role matrix sends an anonymous request to every route on purpose: each is a 401, and
    // the failed-authentication lockout (tested in http_server_test) would turn the rest into 429.
    options.auth_failure_rate_per_sec = 0;
    auto server = http::Server::Start(options, router_, *auth_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    plane_->SetNotifier(&server_->notifier());
  }
  void TearDown() override {
    if (plane_) plane_->SetNotifier(nullptr);
    server_.reset();
    ApiFixture::TearDown();
  }

  HttpReply Send(const std::string& method, const std::string& target, const std::string& body,
                 http::Role role) {
    for (const auto& [r, secret] : kTokens)
      if (r == role)
        return HttpCall(server_->port(), method, target, body,
                        {{"Authorization", http::BearerHeaderValue(secret)}});
    return {};
  }
  HttpReply AsAdmin(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    return Send(method, target, body, http::Role::kAdmin);
  }

  std::unique_ptr<http::Authenticator> auth_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(HttpApiTest, RouteRoleMatrixIsEnforcedForEveryRouteAndRole) {
  for (const auto& route : router_.routes()) {
    const std::string method(http::ToString(route.method));
    const std::string body = route.method == http::Method::kPost ? "{}" : "";
    // A concrete target for patterns with path parameters ("{id}" → "t-0").
    std::string target = route.pattern;
    for (size_t at = target.find('{'); at != std::string::npos; at = target.find('{'))
      target.replace(at, target.find('}', at) - at + 1, "t-0");
    HttpReply anonymous = HttpCall(server_->port(), method, target, body);
    if (route.roles.empty()) {
      EXPECT_NE(anonymous.status, 401) << route.pattern;
      EXPECT_NE(anonymous.status, 403) << route.pattern;
    } else {
      EXPECT_EQ(anonymous.status, 401) << route.pattern;
    }
    for (const auto& [role, secret] : kTokens) {
      const bool allowed = route.roles.empty() || std::find(route.roles.begin(), route.roles.end(),
                                                            role) != route.roles.end();
      HttpReply r = Send(method, target, body, role);
      ASSERT_NE(r.status, 0) << route.pattern;
      if (allowed) {
        // Reaches the handler: an empty body is a 400 there, a GET is a 200.
        EXPECT_NE(r.status, 401) << route.pattern << " as " << http::ToString(role);
        EXPECT_NE(r.status, 403) << route.pattern << " as " << http::ToString(role);
      } else {
        EXPECT_EQ(r.status, 403) << route.pattern << " as " << http::ToString(role);
      }
    }
  }
}

TEST_F(HttpApiTest, HostileInputGetsAClean4xxAndTheServerKeepsServing) {
  const std::string deliver = "/v1/populi/a2a/deliver";
  std::string bad_utf8 = R"({"sender":"s","receiver":"r","message_type":"task_submit","payload":")";
  bad_utf8 += "\xff\xfe\"}";
  const std::string cases[] = {
      "{not json",
      R"({"sender":1,"receiver":"r","message_type":"task_submit"})",
      R"({"sender":"s","receiver":"r","message_type":"task_submit","priority":123456789012345678901234567890})",
      R"({"sender":"s","receiver":"r","message_type":"warp_drive"})",
      bad_utf8,
      std::string(10000, '[') + std::string(10000, ']'),
      std::string(10000, '{'),
  };
  for (const auto& body : cases) {
    HttpReply r = AsAdmin("POST", deliver, body);
    EXPECT_GE(r.status, 400) << body.substr(0, 80);
    EXPECT_LT(r.status, 500) << body.substr(0, 80);
    EXPECT_NE(r.body.find("\"hint\""), std::string::npos) << r.body;
  }
  HttpReply huge_header =
      HttpCall(server_->port(), "GET", "/health", "", {{"X-Big", std::string(64 * 1024, 'a')}});
  if (huge_header.status != 0) {  // closing the connection is also a clean refusal
    EXPECT_GE(huge_header.status, 400);
    EXPECT_LT(huge_header.status, 500);
  }
  EXPECT_EQ(AsAdmin("GET", "/health").status, 200);
  EXPECT_EQ(AsAdmin("POST", "/v1/populi/join", R"({"id":"w"})").status, 200);
}

TEST_F(HttpApiTest, LongPollWakesOnDelivery) {
  ASSERT_EQ(AsAdmin("POST", "/v1/populi/join", R"({"id":"w"})").status, 200);
  HttpReply claimed;
  std::thread waiter([&] {
    claimed = AsAdmin("POST", "/v1/populi/a2a/inbox",
                      R"({"receiver":"w","claimer_node_id":"w","wait_ms":30000})");
  });
  // Whether the waiter parked before or after this delivery, its claim must return the message.
  HttpReply d = AsAdmin("POST", "/v1/populi/a2a/deliver",
                        R"({"sender":"s","receiver":"w","message_type":"task_submit"})");
  EXPECT_EQ(d.status, 200) << d.body;
  waiter.join();
  ASSERT_EQ(claimed.status, 200) << claimed.body;
  EXPECT_NE(claimed.body.find("\"claimer_node_id\":\"w\""), std::string::npos) << claimed.body;
}

TEST_F(HttpApiTest, LongPollWakesWhenALapsedClaimReturnsTheRowToTheInbox) {
  ASSERT_EQ(AsAdmin("POST", "/v1/populi/join", R"({"id":"w1"})").status, 200);
  ASSERT_EQ(AsAdmin("POST", "/v1/populi/join", R"({"id":"w2"})").status, 200);
  ASSERT_EQ(AsAdmin("POST", "/v1/populi/a2a/deliver",
                    R"({"sender":"s","receiver":"q","message_type":"task_submit"})")
                .status,
            200);
  HttpReply first = AsAdmin("POST", "/v1/populi/a2a/inbox",
                            R"({"receiver":"q","claimer_node_id":"w1","lease_ms":1000})");
  ASSERT_NE(first.body.find("\"claimer_node_id\":\"w1\""), std::string::npos) << first.body;
  // w2 parks on the (now empty) inbox; w1's claim lapses and the sweeper requeues the row.
  HttpReply second;
  const auto parked = std::chrono::steady_clock::now();
  std::thread waiter([&] {
    second = AsAdmin("POST", "/v1/populi/a2a/inbox",
                     R"({"receiver":"q","claimer_node_id":"w2","wait_ms":30000})");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  clock_.Advance(1'500);
  ASSERT_TRUE(plane_->SweepOnce().ok());
  waiter.join();
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_NE(second.body.find("\"claimer_node_id\":\"w2\""), std::string::npos) << second.body;
  // Woken by the requeue, not by its own 30 s deadline (which would also find the row).
  EXPECT_LT(std::chrono::steady_clock::now() - parked, std::chrono::seconds(20));
}

TEST_F(HttpApiTest, ErrorsCarryRequestIdAndTheDocumentedShape) {
  HttpReply r = HttpCall(server_->port(), "POST", "/v1/populi/leave", R"({"node_id":"ghost"})",
                         {{"Authorization", http::BearerHeaderValue(kTokens[4].second)},
                          {"X-Request-Id", "req-abc-123"}});
  EXPECT_EQ(r.status, 404);
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("error").at("code"), "not_found");
  EXPECT_EQ(v.at("error").at("request_id"), "req-abc-123");
  EXPECT_TRUE(r.HasHeader("x-request-id"));
}

}  // namespace
}  // namespace populi::control::testing
