// A held long-poll (LongPoll::holder) whose client closes its connection is reported once to
// on_long_poll_dropped; polls without a holder, and held polls answered normally, are not. A
// poll marked end_when_dropped is let go of as soon as its client hangs up.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "client/http_client.h"
#include "http/test_server.h"

namespace populi::http::testing {
namespace {

using namespace std::chrono_literals;

class ServerDropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options = TestOptions();
    options.on_long_poll_dropped = [this](const std::string& node_id) {
      std::lock_guard lock(mu_);
      dropped_.push_back(node_id);
      cv_.notify_all();
    };
    auth_ = Authenticator::Open();
    auto server = Server::Start(std::move(options), TestRouter(state_), *auth_, log_.logger());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  // Opens a long-poll on a raw socket, lets the server park it, then closes the socket.
  void PollAndHangUp(const std::string& query) {
    RawSocket raw(server_->port());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(
        raw.Send("GET /v1/populi/wait?timeout_ms=20000" + query + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::this_thread::sleep_for(200ms);
  }

  std::vector<std::string> WaitForDrops(size_t count) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 10s, [&] { return dropped_.size() >= count; });
    return dropped_;
  }

  CapturedLog log_;
  RouteState state_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> dropped_;
};

TEST_F(ServerDropTest, AHeldPollWhoseClientHangsUpIsReportedOnce) {
  PollAndHangUp("&holder=node-1");
  EXPECT_EQ(WaitForDrops(1), std::vector<std::string>{"node-1"});
  // The server carries on: the dropped exchange left nothing behind.
  client::HttpClient client(server_->url());
  auto health = client.Send("GET", "/health");
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  std::this_thread::sleep_for(200ms);
  std::lock_guard lock(mu_);
  EXPECT_EQ(dropped_.size(), 1u);
}

TEST_F(ServerDropTest, APollWithoutAHolderIsNotReported) {
  PollAndHangUp("");
  PollAndHangUp("&holder=node-2");  // reported after the first had every chance to be
  EXPECT_EQ(WaitForDrops(1), std::vector<std::string>{"node-2"});
}

TEST_F(ServerDropTest, AHeldPollAnsweredBeforeTheHangUpIsNotReported) {
  {
    RawSocket raw(server_->port());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(
        raw.Send("GET /v1/populi/wait?timeout_ms=100&holder=node-3 HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(StatusOf(raw.ReadResponse()), 200);
  }
  PollAndHangUp("&holder=node-4");
  EXPECT_EQ(WaitForDrops(1), std::vector<std::string>{"node-4"});
}

TEST_F(ServerDropTest, AHeldPollIsStillAnsweredWhenItsTopicFires) {
  RawSocket raw(server_->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(
      raw.Send("GET /v1/populi/wait?timeout_ms=20000&holder=node-5 HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(200ms);
  state_.ready = true;
  server_->notifier().Notify("ready");
  const std::string response = raw.ReadResponse();
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_NE(response.find("\"ready\":true"), std::string::npos) << response;
}

TEST_F(ServerDropTest, APollMarkedEndWhenDroppedIsReleasedWhenItsClientHangsUp) {
  PollAndHangUp("");  // unmarked: kept until its deadline, 20 s away
  PollAndHangUp("&end_when_dropped=1");
  for (int i = 0; i < 100 && state_.polls_released.load() == 0; ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(state_.polls_released.load(), 1);
  // Not a holder's poll: nothing is reported.
  std::lock_guard lock(mu_);
  EXPECT_TRUE(dropped_.empty());
}

}  // namespace
}  // namespace populi::http::testing
