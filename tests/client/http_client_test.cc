#include "client/http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "http/test_server.h"

namespace populi::client {
namespace {

using http::testing::RouteState;

// A port nothing listens on: bound once, then released.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_ = http::Authenticator::Open();
    auto server = http::Server::Start(http::testing::TestOptions(),
                                      http::testing::TestRouter(state_), *auth_, log_.logger());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  http::testing::CapturedLog log_;
  RouteState state_;
  std::unique_ptr<http::Authenticator> auth_;
  std::unique_ptr<http::Server> server_;
};

TEST(HttpClient, UnreachableControlPlaneIsUnavailableNamingTheUrl) {
  const std::string url = "http://127.0.0.1:" + std::to_string(FreePort());
  HttpClient client(url, "secret-token-value-0123456789");
  auto r = client.Send("GET", "/health", {}, {}, 2'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("control plane unreachable at " + url), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().hint().find("vox populi serve"), std::string::npos);
  EXPECT_EQ(r.status().ToString().find("secret-token-value"), std::string::npos);
}

TEST(HttpClient, MalformedUrlIsInvalidArgument) {
  HttpClient client("notaurl://x");
  auto r = client.Send("GET", "/health", {}, {}, 1'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(HttpClientTest, ErrorBodyBecomesStatusWithCodeMessageHint) {
  HttpClient client(server_->url());
  auto r = client.Send("GET", "/v1/populi/nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "no route for /v1/populi/nope");
  EXPECT_FALSE(r.status().hint().empty());
  auto raw = client.SendRaw("GET", "/v1/populi/nope");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 404);
}

TEST_F(HttpClientTest, ACallMovesToTheNextReplicaWhenOneIsDownAndStaysThere) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(FreePort());
  HttpClient client(dead + ", " + server_->url() + "/");
  ASSERT_EQ(client.urls().size(), 2u);
  EXPECT_EQ(client.base_url(), dead);
  auto r = client.Send("GET", "/health", {}, {}, 2'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(client.base_url(), server_->url());
  EXPECT_TRUE(client.Send("GET", "/health", {}, {}, 2'000).ok());
  EXPECT_EQ(client.base_url(), server_->url());
  // A POST whose connection was refused was never sent: it moves on as well.
  HttpClient poster(dead + "," + server_->url());
  auto created = poster.SendRaw("POST", "/v1/populi/items", "{}", {}, 2'000);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(poster.base_url(), server_->url());
  // Every replica down: the last one's error.
  HttpClient nowhere(dead + ",http://127.0.0.1:" + std::to_string(FreePort()));
  EXPECT_EQ(nowhere.Send("GET", "/health", {}, {}, 2'000).status().code(), Code::kUnavailable);
}

TEST_F(HttpClientTest, APostThatReachedAReplicaIsNeverRepeatedAtAnother) {
  // A replica that takes connections and never answers (the kernel's backlog accepts them).
  const int silent_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(silent_fd, 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(silent_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string silent = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  HttpClient client(silent + "," + server_->url());
  auto posted = client.SendRaw("POST", "/v1/populi/items", "{}", {}, 300);
  EXPECT_EQ(posted.status().code(), Code::kTimeout);
  EXPECT_EQ(client.base_url(), silent) << "a sent POST may have run: not repeated elsewhere";
  // The same POST with an idempotency key may be repeated, and so may a GET.
  auto keyed = client.SendRaw("POST", "/v1/populi/items", "{}", {{"idempotency-key", "k-1"}}, 300);
  ASSERT_TRUE(keyed.ok()) << keyed.status().ToString();
  EXPECT_EQ(client.base_url(), server_->url());
  ::close(silent_fd);
}

TEST(HttpClientStatus, ResponsesWithoutErrorBodyMapByHttpStatus) {
  ClientResponse plain{502, {}, "<html>bad gateway</html>"};
  Status status = HttpClient::StatusFromResponse(plain, "http://x");
  EXPECT_EQ(status.code(), Code::kInternal);
  EXPECT_NE(status.message().find("HTTP 502"), std::string::npos);
  ClientResponse missing{404, {}, ""};
  EXPECT_EQ(HttpClient::StatusFromResponse(missing, "http://x").code(), Code::kNotFound);
  ClientResponse ok{204, {}, ""};
  EXPECT_TRUE(HttpClient::StatusFromResponse(ok, "http://x").ok());
  ClientResponse coded{409, {}, R"({"error":{"code":"store_full","message":"m","hint":"h"}})"};
  Status decoded = HttpClient::StatusFromResponse(coded, "http://x");
  EXPECT_EQ(decoded.code(), Code::kStoreFull);
  EXPECT_EQ(decoded.message(), "m");
  EXPECT_EQ(decoded.hint(), "h");
}

TEST_F(HttpClientTest, ReusesItsConnection) {
  HttpClient client(server_->url());
  ASSERT_TRUE(client.Send("GET", "/health").ok());
  std::string first;
  {
    std::lock_guard lock(state_.mu);
    first = state_.last_remote;
  }
  // A 404 in between does not drop the connection either.
  ASSERT_FALSE(client.Send("GET", "/v1/populi/nope").ok());
  ASSERT_TRUE(client.Send("GET", "/health").ok());
  {
    std::lock_guard lock(state_.mu);
    EXPECT_EQ(state_.last_remote, first);
  }
  HttpClient other(server_->url());
  ASSERT_TRUE(other.Send("GET", "/health").ok());
  std::lock_guard lock(state_.mu);
  EXPECT_NE(state_.last_remote, first);
}

TEST_F(HttpClientTest, RetriesIdempotentCallsWithBackoff) {
  HttpClient client(server_->url());
  client.set_retry_policy({/*max_attempts=*/4, /*initial_backoff_ms=*/5, /*max_backoff_ms=*/20});
  state_.flaky_failures_left = 2;
  auto r = client.Send("GET", "/v1/populi/flaky");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(state_.flaky_failures_left.load(), -1);  // two failures, then the success

  state_.flaky_failures_left = 10;
  auto exhausted = client.Send("GET", "/v1/populi/flaky");
  ASSERT_FALSE(exhausted.ok());
  EXPECT_EQ(exhausted.status().code(), Code::kUnavailable);
  EXPECT_EQ(state_.flaky_failures_left.load(), 6);  // exactly max_attempts tries

  HttpClient no_retry(server_->url());
  state_.flaky_failures_left = 1;
  EXPECT_FALSE(no_retry.Send("GET", "/v1/populi/flaky").ok());
  EXPECT_EQ(state_.flaky_failures_left.load(), 0);
}

TEST_F(HttpClientTest, TimeoutIsReportedAsTimeout) {
  state_.slow_ms = 1'500;
  HttpClient client(server_->url());
  auto r = client.Send("GET", "/v1/populi/slow", {}, {}, 200);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTimeout);
}

TEST_F(HttpClientTest, AbortEndsTheCallInProgressAndEveryLaterOne) {
  HttpClient client(server_->url());
  Result<ClientResponse> waited = Unavailable("not run", "");
  std::thread caller([&] {
    waited = client.SendRaw("GET", "/v1/populi/wait?timeout_ms=20000&end_when_dropped=1", {}, {},
                            30'000);
  });
  for (int i = 0; i < 200 && state_.polls_started.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_EQ(state_.polls_started.load(), 1);
  client.Abort();
  caller.join();
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.status().code(), Code::kUnavailable);
  EXPECT_NE(waited.status().message().find("cancelled"), std::string::npos)
      << waited.status().ToString();
  // The connection was closed: the server let the poll go long before its 20 s deadline.
  for (int i = 0; i < 200 && state_.polls_released.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(state_.polls_released.load(), 1);
  // Every later call, an event stream too, fails without reaching the server.
  EXPECT_EQ(client.SendRaw("GET", "/health").status().code(), Code::kUnavailable);
  auto events =
      client.SendForEvents("GET", "/v1/populi/events", {}, [](const SseEvent&) { return true; });
  EXPECT_EQ(events.status().code(), Code::kUnavailable);
  EXPECT_EQ(state_.polls_started.load(), 1);
}

TEST_F(HttpClientTest, StreamEventsReportsErrorResponses) {
  HttpClient client(server_->url());
  int events = 0;
  Status status = client.StreamEvents("/v1/populi/nope", [&](const SseEvent&) {
    ++events;
    return true;
  });
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_EQ(events, 0);
}

TEST_F(HttpClientTest, SendsBodyHeadersAndNodeId) {
  HttpClient client(server_->url());
  client.set_node_id("node-7");
  auto r = client.Send("POST", "/v1/populi/items", std::string(1000, 'z'),
                       {{"x-request-id", "client-req-1"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{\"size\":1000}");
  EXPECT_EQ(r->Header("X-Request-Id"), "client-req-1");
}

// The server closes keep-alive connections idle past its timeout; the next call, a POST here
// (never retried by the retry policy), must go out on a fresh connection and succeed once.
TEST(HttpClient, ReconnectsWhenTheServerClosedAnIdleConnection) {
  RouteState state;
  http::testing::CapturedLog log;
  auto auth = http::Authenticator::Open();
  http::ServerOptions options = http::testing::TestOptions();
  options.idle_timeout_ms = 100;
  auto server = http::Server::Start(options, http::testing::TestRouter(state), *auth, log.logger());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  HttpClient client((*server)->url());
  ASSERT_TRUE(client.Send("GET", "/health").ok());  // /health records the peer address
  std::string first;
  {
    std::lock_guard lock(state.mu);
    first = state.last_remote;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto again = client.Send("POST", "/v1/populi/items", std::string(10, 'z'));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->body, "{\"size\":10}");
  ASSERT_TRUE(client.Send("GET", "/health").ok());
  std::lock_guard lock(state.mu);
  EXPECT_NE(state.last_remote, first);
}

TEST(HttpClient, UrlWithoutAHostIsInvalidArgument) {
  HttpClient client("http://:8080");
  auto r = client.Send("GET", "/health", {}, {}, 1'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().hint().find("http://HOST:PORT"), std::string::npos);
}

}  // namespace
}  // namespace populi::client
