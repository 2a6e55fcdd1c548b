// Slow clients, idle keep-alive, the connection cap and rate limits.
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/http_client.h"
#include "http/test_server.h"

namespace populi::http::testing {
namespace {

using client::HttpClient;
using namespace std::chrono_literals;

std::unique_ptr<Server> StartOrDie(ServerOptions options, RouteState& state,
                                   const Authenticator& auth, CapturedLog* log = nullptr) {
  auto server =
      Server::Start(std::move(options), TestRouter(state), auth, log ? log->logger() : nullptr);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

TEST(ServerLimits, SlowLorisIsCutOffByHeaderTimeoutWhileOthersAreServed) {
  RouteState state;
  CapturedLog log;
  auto auth = Authenticator::Open();
  auto server = StartOrDie(TestOptions(), state, *auth, &log);  // header timeout 1.5 s
  ASSERT_TRUE(server);
  RawSocket loris(server->port());
  ASSERT_TRUE(loris.Send("GET /health HTTP/1.1\r\nX-Slow: "));
  const auto started = std::chrono::steady_clock::now();
  bool cut_off = false;
  HttpClient other(server->url());
  // One byte every 250 ms, forever; meanwhile another client keeps getting answers.
  while (std::chrono::steady_clock::now() - started < 10s) {
    if (!loris.Send("a")) {
      cut_off = true;
      break;
    }
    auto r = other.Send("GET", "/health", {}, {}, 5'000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (loris.WaitClosed(250)) {
      cut_off = true;
      break;
    }
  }
  EXPECT_TRUE(cut_off) << "a client sending a byte every 250 ms held its connection for 10 s";
  // The log line is written just after the socket closes: give it a moment.
  for (int i = 0; i < 100 && log.Text().find("closed: header timeout") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(log.Text().find("closed: header timeout"), std::string::npos) << log.Text();
}

TEST(ServerLimits, SlowBodyIsCutOffByBodyTimeout) {
  RouteState state;
  auto auth = Authenticator::Open();
  auto server = StartOrDie(TestOptions(), state, *auth);
  ASSERT_TRUE(server);
  RawSocket slow(server->port());
  slow.Send("POST /v1/populi/items HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  bool cut_off = false;
  for (int i = 0; i < 40 && !cut_off; ++i) cut_off = !slow.Send("b") || slow.WaitClosed(250);
  EXPECT_TRUE(cut_off);
}

TEST(ServerLimits, IdleKeepAliveConnectionIsClosed) {
  RouteState state;
  auto auth = Authenticator::Open();
  ServerOptions options = TestOptions();
  options.idle_timeout_ms = 300;
  auto server = StartOrDie(options, state, *auth);
  ASSERT_TRUE(server);
  RawSocket raw(server->port());
  raw.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(StatusOf(raw.ReadResponse()), 200);
  EXPECT_TRUE(raw.WaitClosed(5'000));
}

TEST(ServerLimits, ConnectionCapAnswers503AndRecovers) {
  RouteState state;
  auto auth = Authenticator::Open();
  ServerOptions options = TestOptions();
  options.max_connections = 2;
  auto server = StartOrDie(options, state, *auth);
  ASSERT_TRUE(server);
  auto first = std::make_unique<RawSocket>(server->port());
  RawSocket second(server->port());
  first->Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(StatusOf(first->ReadResponse()), 200);
  second.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(StatusOf(second.ReadResponse()), 200);
  RawSocket third(server->port());
  std::string refused = third.ReadAll(5'000);
  EXPECT_EQ(StatusOf(refused), 503) << refused;
  EXPECT_NE(refused.find("connection limit"), std::string::npos);
  first.reset();  // frees a slot
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    std::this_thread::sleep_for(50ms);
    RawSocket again(server->port());
    again.Send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    served = StatusOf(again.ReadAll(2'000)) == 200;
  }
  EXPECT_TRUE(served);
}

TEST(ServerLimits, RateLimitPerTokenAnswers429WithRetryAfter) {
  RouteState state;
  AuthConfig config;
  config.tokens = {{"ci", Role::kSubmitter, "ci-secret-0123456789abcdef"},
                   {"ops", Role::kSubmitter, "ops-secret-0123456789abcdef"}};
  auto auth = Authenticator::Create(config);
  ASSERT_TRUE(auth.ok());
  ServerOptions options = TestOptions();
  options.rate_per_sec = 0.5;
  options.rate_burst = 2;
  auto server = StartOrDie(options, state, **auth);
  ASSERT_TRUE(server);
  HttpClient ci(server->url(), "ci-secret-0123456789abcdef");
  EXPECT_EQ(ci.SendRaw("GET", "/v1/populi/items/1")->status, 200);
  EXPECT_EQ(ci.SendRaw("GET", "/v1/populi/items/2")->status, 200);
  auto limited = ci.SendRaw("GET", "/v1/populi/items/3");
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->Header("retry-after"), "2");
  auto as_status = ci.Send("GET", "/v1/populi/items/3");
  EXPECT_EQ(as_status.status().code(), Code::kResourceExhausted);
  // Another token has its own bucket; open routes without a token are not limited per token.
  HttpClient ops(server->url(), "ops-secret-0123456789abcdef");
  EXPECT_EQ(ops.SendRaw("GET", "/v1/populi/items/4")->status, 200);
  HttpClient anonymous(server->url());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(anonymous.SendRaw("GET", "/health")->status, 200);
}

TEST(ServerLimits, RateLimitPerNodeId) {
  RouteState state;
  auto auth = Authenticator::Open();
  ServerOptions options = TestOptions();
  options.rate_per_sec = 0.5;
  options.rate_burst = 1;
  auto server = StartOrDie(options, state, *auth);
  ASSERT_TRUE(server);
  HttpClient node_a(server->url());
  node_a.set_node_id("node-a");
  EXPECT_EQ(node_a.SendRaw("GET", "/health")->status, 200);
  auto limited = node_a.SendRaw("GET", "/health");
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->status, 429);
  EXPECT_FALSE(limited->Header("retry-after").empty());
  HttpClient node_b(server->url());
  node_b.set_node_id("node-b");
  EXPECT_EQ(node_b.SendRaw("GET", "/health")->status, 200);
}

TEST(ServerLimits, LivenessRoutesAreNeverRateLimited) {
  RouteState state;
  AuthConfig config;
  config.tokens = {{"mesh", Role::kMesh, "mesh-secret-0123456789abcdef"}};
  auto auth = Authenticator::Create(config);
  ASSERT_TRUE(auth.ok());
  ServerOptions options = TestOptions();
  options.rate_per_sec = 0.5;
  options.rate_burst = 1;
  Router router = TestRouter(state);
  Route heartbeat;
  heartbeat.method = Method::kPost;
  heartbeat.pattern = "/v1/populi/heartbeat";
  heartbeat.roles = {Role::kMesh};
  heartbeat.name = "nodes.heartbeat";
  heartbeat.handler = [](Request&) { return NoContent(); };
  heartbeat.liveness = true;
  router.Add(std::move(heartbeat));
  auto server = Server::Start(options, router, **auth);
  ASSERT_TRUE(server.ok());
  // The shared token's bucket is spent by another client's traffic ...
  HttpClient busy((*server)->url(), "mesh-secret-0123456789abcdef");
  EXPECT_EQ(busy.SendRaw("GET", "/v1/populi/items/1")->status, 200);
  EXPECT_EQ(busy.SendRaw("GET", "/v1/populi/items/2")->status, 429);
  // ... and the node's heartbeats still get through, under the same token and node id.
  HttpClient node((*server)->url(), "mesh-secret-0123456789abcdef");
  node.set_node_id("node-a");
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(node.SendRaw("POST", "/v1/populi/heartbeat", "{}")->status, 204) << i;
}

TEST(ServerLimits, FailedAuthenticationIsLockedOutPerSourceAddress) {
  RouteState state;
  AuthConfig config;
  config.tokens = {{"ci", Role::kSubmitter, "ci-secret-0123456789abcdef"}};
  auto auth = Authenticator::Create(config);
  ASSERT_TRUE(auth.ok());
  ServerOptions options = TestOptions();
  options.auth_failure_rate_per_sec = 0.2;
  options.auth_failure_burst = 5;
  std::mutex mu;
  std::vector<std::string> lockouts;
  options.on_auth_lockout = [&](const std::string& ip) {
    std::lock_guard lock(mu);
    lockouts.push_back(ip);
  };
  CapturedLog log;
  auto server = StartOrDie(options, state, **auth, &log);
  ASSERT_TRUE(server);
  HttpClient guesser(server->url(), "wrong-secret-0123456789abcdef");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(guesser.SendRaw("GET", "/v1/populi/items/1")->status, 401);
  auto locked = guesser.SendRaw("GET", "/v1/populi/items/1");
  ASSERT_TRUE(locked.ok());
  EXPECT_EQ(locked->status, 429);
  EXPECT_FALSE(locked->Header("retry-after").empty());
  // The address is locked, whatever credential it presents next; /health stays answered.
  HttpClient right(server->url(), "ci-secret-0123456789abcdef");
  EXPECT_EQ(right.SendRaw("GET", "/v1/populi/items/1")->status, 429);
  EXPECT_EQ(right.SendRaw("GET", "/health")->status, 200);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(lockouts, std::vector<std::string>{"127.0.0.1"});  // reported once
  }
  EXPECT_NE(log.Text().find("auth lockout remote=127.0.0.1"), std::string::npos);
  EXPECT_EQ(log.Text().find("wrong-secret"), std::string::npos);
}

}  // namespace
}  // namespace populi::http::testing
