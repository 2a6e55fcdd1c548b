// Long-polls, event streams, graceful stop and TLS.
#include <atomic>
#include <boost/json/parse.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "client/http_client.h"
#include "http/test_server.h"

namespace populi::http::testing {
namespace {

using client::HttpClient;
using client::SseEvent;
using namespace std::chrono_literals;

class ServerAsyncTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(TestOptions()); }
  void Start(ServerOptions options) {
    auth_ = Authenticator::Open();
    auto server = Server::Start(std::move(options), TestRouter(state_), *auth_, log_.logger());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  CapturedLog log_;
  RouteState state_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerAsyncTest, LongPollTimesOutWithOnTimeoutAnswer) {
  HttpClient client(server_->url());
  auto r = client.Send("GET", "/v1/populi/wait?timeout_ms=200");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(boost::json::parse(r->body).at("ready").as_bool(), false);
}

TEST_F(ServerAsyncTest, LongPollIsWokenByNotify) {
  auto waiting = std::async(std::launch::async, [this] {
    HttpClient client(server_->url());
    return client.Send("GET", "/v1/populi/wait?timeout_ms=20000");
  });
  // The poller is parked on a timer, not a thread: notifying other topics does not answer it.
  std::this_thread::sleep_for(200ms);
  server_->notifier().Notify("unrelated");
  EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout);
  state_.ready = true;
  server_->notifier().Notify("ready");
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  auto r = waiting.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(boost::json::parse(r->body).at("ready").as_bool(), true);
}

TEST_F(ServerAsyncTest, ManyLongPollsDoNotHoldHandlerThreads) {
  // Four handler threads, twelve parked polls: /health must still answer at once.
  std::vector<std::future<Result<client::ClientResponse>>> polls;
  for (int i = 0; i < 12; ++i) {
    polls.push_back(std::async(std::launch::async, [this] {
      HttpClient client(server_->url());
      return client.Send("GET", "/v1/populi/wait?timeout_ms=20000");
    }));
  }
  std::this_thread::sleep_for(300ms);
  HttpClient client(server_->url());
  auto health = client.Send("GET", "/health", {}, {}, 5'000);
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  state_.ready = true;
  server_->notifier().Notify("ready");
  for (auto& poll : polls) {
    ASSERT_EQ(poll.wait_for(10s), std::future_status::ready);
    auto r = poll.get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(boost::json::parse(r->body).at("ready").as_bool(), true);
  }
}

TEST_F(ServerAsyncTest, EventStreamDeliversEventsAsTheyAreNotified) {
  state_.events_available = 2;
  std::vector<SseEvent> seen;
  auto reader = std::async(std::launch::async, [&] {
    HttpClient client(server_->url());
    return client.StreamEvents(
        "/v1/populi/events",
        [&](const SseEvent& event) {
          seen.push_back(event);
          return seen.size() < 4;
        },
        20'000);
  });
  std::this_thread::sleep_for(300ms);
  state_.events_available = 4;
  server_->notifier().Notify("events");
  ASSERT_EQ(reader.wait_for(10s), std::future_status::ready);
  Status status = reader.get();
  EXPECT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(seen.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(seen[i].id, std::to_string(i + 1));
    EXPECT_EQ(seen[i].data, "{\"n\":" + std::to_string(i + 1) + "}");
  }
}

TEST_F(ServerAsyncTest, EventStreamEndsWhenTheSourceEnds) {
  state_.events_available = 1;
  int count = 0;
  auto reader = std::async(std::launch::async, [&] {
    HttpClient client(server_->url());
    return client.StreamEvents("/v1/populi/events", [&](const SseEvent&) {
      ++count;
      return true;
    });
  });
  std::this_thread::sleep_for(300ms);
  state_.events_available = -1;
  server_->notifier().Notify("events");
  ASSERT_EQ(reader.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(reader.get().ok());
  EXPECT_EQ(count, 1);
}

// The stream's head: event-stream type, no caching, no length, and the connection closes at the
// end of the stream.
TEST_F(ServerAsyncTest, EventStreamHeadHasNoLengthAndClosesTheConnection) {
  state_.events_available = 1;
  RawSocket raw(server_->port());
  ASSERT_TRUE(raw.connected());
  raw.Send("GET /v1/populi/events HTTP/1.1\r\nHost: x\r\nx-request-id: sse-1\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  state_.events_available = -1;
  server_->notifier().Notify("events");
  const std::string all = raw.ReadAll();
  // Field names compared case-insensitively: the whole head lower-cased.
  std::string head = all.substr(0, all.find("\r\n\r\n") + 2);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(StatusOf(all), 200) << all;
  EXPECT_NE(head.find("\r\ncontent-type: text/event-stream\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\ncache-control: no-cache\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nx-request-id: sse-1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nconnection: close\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("content-length"), std::string::npos) << head;
  EXPECT_NE(all.find("data: "), std::string::npos) << all;
}

TEST_F(ServerAsyncTest, StopFinishesInFlightRequestAndStopsAccepting) {
  state_.slow_ms = 500;
  const std::string url = server_->url();
  auto in_flight = std::async(std::launch::async, [url] {
    HttpClient client(url);
    return client.Send("GET", "/v1/populi/slow");
  });
  while (state_.slow_started.load() == 0) std::this_thread::sleep_for(5ms);
  server_->Stop();
  auto r = in_flight.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close");
  HttpClient late(url);
  auto refused = late.Send("GET", "/health", {}, {}, 2'000);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_NE(refused.status().message().find("unreachable at " + url), std::string::npos);
  server_->Wait();  // returns: Stop has completed
}

TEST_F(ServerAsyncTest, StopAnswersParkedLongPollsAtOnce) {
  auto waiting = std::async(std::launch::async, [this] {
    HttpClient client(server_->url());
    return client.Send("GET", "/v1/populi/wait?timeout_ms=60000");
  });
  std::this_thread::sleep_for(300ms);
  server_->Stop();
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  auto r = waiting.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(boost::json::parse(r->body).at("ready").as_bool(), false);
}

TEST_F(ServerAsyncTest, StopBoundsARequestThatOutlivesTheGrace) {
  server_.reset();
  ServerOptions options = TestOptions();
  options.shutdown_grace_ms = 200;
  Start(options);
  state_.slow_ms = 1'500;
  auto in_flight = std::async(std::launch::async, [this] {
    HttpClient client(server_->url());
    return client.Send("GET", "/v1/populi/slow", {}, {}, 10'000);
  });
  while (state_.slow_started.load() == 0) std::this_thread::sleep_for(5ms);
  server_->Stop();  // returns (after the handler thread finishes) even though grace ran out
  auto r = in_flight.get();
  EXPECT_FALSE(r.ok());
  EXPECT_NE(log_.Text().find("still running after 200 ms"), std::string::npos);
}

// Deferred responses: the handler returns at once and another thread completes the answer.
class DeferredTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Router router;
    Route later;
    later.method = Method::kGet;
    later.pattern = "/v1/populi/later/{n}";
    later.name = "later";
    later.handler = [this](Request& req) {
      auto completion = std::make_shared<Completion>();
      const std::string n = req.params.at("n");
      if (n == "now") {  // completed before the server even sees the completion
        completion->Complete(JsonResponse(R"({"n":"now"})"));
      } else if (n == "never") {
        std::lock_guard lock(mu_);
        parked_.push_back(completion);
      } else {
        ++started_;
        completers_.emplace_back([this, completion, n] {
          release_.wait();
          completion->Complete(JsonResponse(R"({"n":")" + n + R"("})", 201));
          completion->Complete(JsonResponse("ignored", 500));  // only the first one counts
        });
      }
      return Deferred(completion);
    };
    router.Add(std::move(later));
    ServerOptions options = TestOptions();
    options.handler_threads = 1;
    options.shutdown_grace_ms = 200;
    auth_ = Authenticator::Open();
    auto server = Server::Start(options, std::move(router), *auth_, log_.logger());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    if (!released_) release_promise_.set_value();
    server_.reset();
    for (auto& t : completers_) t.join();
  }

  CapturedLog log_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Server> server_;
  std::vector<std::thread> completers_;  // touched by the one handler thread only
  std::atomic<int> started_{0};
  std::promise<void> release_promise_;
  std::shared_future<void> release_ = release_promise_.get_future().share();
  std::mutex mu_;
  std::vector<std::shared_ptr<Completion>> parked_;
  bool released_ = false;
};

TEST_F(DeferredTest, AnswersCompletedLaterOrAtOnceWithoutHoldingTheHandlerThread) {
  // One handler thread and eight requests whose answers wait for `release_`: if a waiting
  // request held the thread, the second handler would never run.
  std::vector<std::future<Result<client::ClientResponse>>> waits;
  for (int i = 0; i < 8; ++i) {
    waits.push_back(std::async(std::launch::async, [this, i] {
      HttpClient client(server_->url());
      return client.Send("GET", "/v1/populi/later/" + std::to_string(i), {}, {}, 20'000);
    }));
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (started_.load() < 8 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(started_.load(), 8) << "a deferred request held the handler thread";
  HttpClient client(server_->url());
  auto now = client.Send("GET", "/v1/populi/later/now");
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ(now->body, R"({"n":"now"})");
  released_ = true;
  release_promise_.set_value();
  for (int i = 0; i < 8; ++i) {
    auto r = waits[static_cast<size_t>(i)].get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, R"({"n":")" + std::to_string(i) + R"("})");
  }
  // The connection stays usable after a deferred answer.
  auto again = client.Send("GET", "/v1/populi/later/42");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->body, R"({"n":"42"})");
}

TEST_F(DeferredTest, StopDoesNotWaitForeverAndALateCompletionIsHarmless) {
  auto waiting = std::async(std::launch::async, [this] {
    HttpClient client(server_->url());
    return client.Send("GET", "/v1/populi/later/never", {}, {}, 10'000);
  });
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (!parked_.empty()) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  server_->Stop();  // bounded by the 200 ms grace
  EXPECT_FALSE(waiting.get().ok());
  std::lock_guard lock(mu_);
  parked_.front()->Complete(JsonResponse("{}"));  // the server is gone: dropped, no crash
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("populi-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
        key_ + " -out " + cert_ + " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(TlsTest, ServesHttpsWithTheGeneratedCertificate) {
  RouteState state;
  auto auth = Authenticator::Open();
  ServerOptions options = TestOptions();
  options.tls_cert_path = cert_;
  options.tls_key_path = key_;
  auto server = Server::Start(options, TestRouter(state), *auth);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ((*server)->url().rfind("https://127.0.0.1:", 0), 0u);

  HttpClient trusted((*server)->url());
  trusted.set_tls_ca_file(cert_);
  for (int i = 0; i < 2; ++i) {
    auto r = trusted.Send("GET", "/v1/populi/items/tls");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(boost::json::parse(r->body).at("id").as_string(), "tls");
  }
  HttpClient untrusted((*server)->url());
  auto refused = untrusted.Send("GET", "/health");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_NE(refused.status().message().find("TLS"), std::string::npos)
      << refused.status().message();
  // Plain HTTP to the TLS port gets no answer but does not disturb the server.
  HttpClient plain("http://127.0.0.1:" + std::to_string((*server)->port()));
  EXPECT_FALSE(plain.Send("GET", "/health", {}, {}, 3'000).ok());
  EXPECT_TRUE(trusted.Send("GET", "/health").ok());
}

TEST_F(TlsTest, KeyThatDoesNotLoadIsAClearError) {
  RouteState state;
  auto auth = Authenticator::Open();
  ServerOptions options = TestOptions();
  options.tls_cert_path = cert_;
  options.tls_key_path = cert_;  // a certificate is not a key
  auto server = Server::Start(options, TestRouter(state), *auth);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("TLS key"), std::string::npos);
}

// `openssl s_client` (an independent TLS stack's command line) pinned to one protocol version:
// true when the handshake with the server completed.
bool HandshakeWith(const std::string& version_flag, int port, const std::string& ca) {
  const std::string command = "openssl s_client " + version_flag +
                              " -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " + ca +
                              " -verify_return_error </dev/null >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

TEST_F(TlsTest, MinimumVersionRefusesOlderHandshakes) {
  RouteState state;
  auto auth = Authenticator::Open();
  ServerOptions options = TestOptions();
  options.tls_cert_path = cert_;
  options.tls_key_path = key_;
  ASSERT_EQ(options.tls_min_version, "1.3");  // the documented default
  auto strict = Server::Start(options, TestRouter(state), *auth);
  ASSERT_TRUE(strict.ok()) << strict.status().ToString();
  EXPECT_FALSE(HandshakeWith("-tls1_2", (*strict)->port(), cert_));
  EXPECT_TRUE(HandshakeWith("-tls1_3", (*strict)->port(), cert_));
  (*strict)->Stop();

  options.tls_min_version = "1.2";
  auto lenient = Server::Start(options, TestRouter(state), *auth);
  ASSERT_TRUE(lenient.ok()) << lenient.status().ToString();
  EXPECT_TRUE(HandshakeWith("-tls1_2", (*lenient)->port(), cert_));

  options.tls_min_version = "1.1";
  auto refused = Server::Start(options, TestRouter(state), *auth);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("1.1"), std::string::npos);
  EXPECT_FALSE(refused.status().hint().empty());
}

}  // namespace
}  // namespace populi::http::testing
