// GET /v1/populi/events as a server-sent stream over the real server: a client whose connection
// drops mid-stream resumes with Last-Event-ID and gets every event exactly once; filters by kind
// and node; GET /metrics and the metrics token's confinement.
#include <sys/socket.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "control/http/auth.h"
#include "control/http/server.h"
#include "fixture.h"
#include "http_client.h"

namespace populi::control::testing {
namespace {

constexpr char kStreamAdminToken[] = "stream-admin-token-0123456789";
constexpr char kStreamMetricsToken[] = "stream-metrics-token-0123456789";

struct SseFrame {
  int64_t id = 0;
  std::string event;
  std::string data;
};

// One open event stream on a raw socket: frames are parsed as bytes arrive, and Close() drops
// the connection the way a crashed or cut-off client does.
class RawEventStream {
 public:
  RawEventStream(int port, const std::string& target,
                 const std::vector<std::pair<std::string, std::string>>& headers) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{30, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "\r\n";
    (void)send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
  }
  ~RawEventStream() { Close(); }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  // Reads until `n` frames with an id have arrived (or the stream ends / times out) and returns
  // exactly the first `n`: what a client processed before its connection went away.
  std::vector<SseFrame> Take(size_t n) {
    char buf[4096];
    while (frames_.size() < n) {
      const ssize_t got = recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) break;
      raw_.append(buf, static_cast<size_t>(got));
      Parse();
    }
    std::vector<SseFrame> out(
        frames_.begin(), frames_.begin() + static_cast<ptrdiff_t>(std::min(n, frames_.size())));
    return out;
  }
  const std::string& head() const { return head_; }

 private:
  void Parse() {
    if (head_.empty()) {
      const size_t end = raw_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      head_ = raw_.substr(0, end);
      raw_.erase(0, end + 4);
    }
    for (size_t end = raw_.find("\n\n"); end != std::string::npos; end = raw_.find("\n\n")) {
      const std::string block = raw_.substr(0, end);
      raw_.erase(0, end + 2);
      SseFrame f;
      size_t start = 0;
      while (start <= block.size()) {
        size_t nl = block.find('\n', start);
        if (nl == std::string::npos) nl = block.size();
        const std::string line = block.substr(start, nl - start);
        if (line.rfind("id: ", 0) == 0) f.id = std::stoll(line.substr(4));
        if (line.rfind("event: ", 0) == 0) f.event = line.substr(7);
        if (line.rfind("data: ", 0) == 0) f.data = line.substr(6);
        start = nl + 1;
      }
      if (f.id > 0) frames_.push_back(f);  // comments (keep-alives) carry no id
    }
  }

  int fd_ = -1;
  std::string raw_;
  std::string head_;
  std::vector<SseFrame> frames_;
};

class EventStreamTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    http::AuthConfig config;
    config.tokens.push_back({"admin", http::Role::kAdmin, kStreamAdminToken});
    config.tokens.push_back(
        {std::string(http::kMetricsTokenLabel), http::Role::kReadOnly, kStreamMetricsToken});
    auto auth = http::Authenticator::Create(config);
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    auth_ = std::move(*auth);
    http::ServerOptions options;
    options.bind = "127.0.0.1:0";
    options.handler_threads = 4;
    options.on_request_done = [this](const http::RequestRecord& r) { plane_->ObserveRequest(r); };
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

  // Appends events the way the control plane does: a committed write, then a wake-up.
  void Append(const std::vector<std::pair<std::string, std::string>>& kind_subject) {
    ASSERT_TRUE(store_
                    ->Write([&](store::WriteTxn& txn) -> Status {
                      for (const auto& [kind, subject] : kind_subject) {
                        POPULI_RETURN_IF_ERROR(
                            txn.AppendEvent(mesh::MakeEvent(clock_.NowMs(), kind, subject,
                                                            {{"node_id", subject}}))
                                .status());
                      }
                      return Status::Ok();
                    })
                    .ok());
    server_->notifier().Notify("events");
  }

  std::vector<std::pair<std::string, std::string>> Headers(int64_t last_id = -1) const {
    std::vector<std::pair<std::string, std::string>> h = {
        {"Authorization", http::BearerHeaderValue(kStreamAdminToken)},
        {"Accept", "text/event-stream"}};
    if (last_id >= 0) h.emplace_back("Last-Event-ID", std::to_string(last_id));
    return h;
  }

  std::unique_ptr<http::Authenticator> auth_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(EventStreamTest, ResumeAfterADroppedConnectionLosesAndRepeatsNoEvent) {
  std::vector<std::pair<std::string, std::string>> first;
  for (int i = 0; i < 8; ++i) first.emplace_back("node.alive", "n" + std::to_string(i));
  Append(first);

  std::vector<SseFrame> seen;
  {
    RawEventStream stream(server_->port(), "/v1/populi/events", Headers());
    // The client processes three events, then its connection is cut mid-stream (the server has
    // sent more than that already).
    auto got = stream.Take(3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_NE(stream.head().find("text/event-stream"), std::string::npos) << stream.head();
    seen.insert(seen.end(), got.begin(), got.end());
    stream.Close();
  }
  // More happens while the client is away.
  std::vector<std::pair<std::string, std::string>> second;
  for (int i = 0; i < 5; ++i) second.emplace_back("lease.expired", "l" + std::to_string(i));
  Append(second);

  RawEventStream resumed(server_->port(), "/v1/populi/events?after=1",  // the header wins
                         Headers(seen.back().id));
  auto rest = resumed.Take(10);
  ASSERT_EQ(rest.size(), 10u);
  seen.insert(seen.end(), rest.begin(), rest.end());
  // And something after the resumed stream caught up arrives live on it.
  Append({{"node.down", "n0"}});
  auto live = resumed.Take(11);
  ASSERT_EQ(live.size(), 11u);
  seen.push_back(live.back());

  ASSERT_EQ(seen.size(), 14u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].id, static_cast<int64_t>(i) + 1) << "event " << i;
  }
  EXPECT_EQ(seen[0].event, "node.alive");
  EXPECT_EQ(seen[8].event, "lease.expired");
  EXPECT_EQ(seen[13].event, "node.down");
  auto data = boost::json::parse(seen[13].data);
  EXPECT_EQ(data.at("kind").as_string(), "node.down");
  EXPECT_EQ(data.at("id").as_int64(), 14);
}

TEST_F(EventStreamTest, StreamAndPageFilterByKindPrefixAndNode) {
  Append({{"node.suspect", "n1"},
          {"lease.granted", "l1"},
          {"node.down", "n2"},
          {"node.down", "n1"},
          {"task.placed", "t1"}});
  RawEventStream stream(server_->port(), "/v1/populi/events?kind=node.,task.placed&node=n1",
                        Headers());
  auto got = stream.Take(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, 1);
  EXPECT_EQ(got[0].event, "node.suspect");
  EXPECT_EQ(got[1].id, 4);
  EXPECT_EQ(got[1].event, "node.down");

  Reply page = Get("/v1/populi/events", {{"kind", "node.down"}});
  ASSERT_EQ(page.status, 200);
  const auto& events = page.obj().at("events").as_array();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("subject").as_string(), "n2");
  EXPECT_EQ(page.obj().at("next_after").as_int64(), 5);  // past the filtered-out ones too
}

TEST_F(EventStreamTest, AMalformedLastEventIdIsABadRequest) {
  HttpReply r = HttpCall(server_->port(), "GET", "/v1/populi/events", "",
                         {{"Authorization", http::BearerHeaderValue(kStreamAdminToken)},
                          {"Accept", "text/event-stream"},
                          {"Last-Event-ID", "seven"}});
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(EventStreamTest, MetricsAreServedToReadersAndTheMetricsTokenReadsNothingElse) {
  HttpReply anonymous = HttpCall(server_->port(), "GET", "/metrics");
  EXPECT_EQ(anonymous.status, 401);
  const std::vector<std::pair<std::string, std::string>> metrics_auth = {
      {"Authorization", http::BearerHeaderValue(kStreamMetricsToken)}};
  HttpReply scraped = HttpCall(server_->port(), "GET", "/metrics", "", metrics_auth);
  ASSERT_EQ(scraped.status, 200) << scraped.body;
  EXPECT_NE(scraped.head.find("text/plain; version=0.0.4"), std::string::npos) << scraped.head;
  EXPECT_NE(scraped.body.find("# TYPE populi_store_size_bytes gauge"), std::string::npos);
  // The anonymous call above was counted as an auth refusal on the metrics route.
  EXPECT_NE(scraped.body.find("populi_http_refusals_total{reason=\"auth\"}"), std::string::npos)
      << scraped.body;
  EXPECT_NE(scraped.body.find(
                "populi_http_requests_total{route=\"metrics\",method=\"GET\",status=\"401\"}"),
            std::string::npos);
  HttpReply elsewhere = HttpCall(server_->port(), "GET", "/v1/populi/nodes", "", metrics_auth);
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.body;
  // The refusals became one coalesced auth.refused event per source, carrying no token.
  // The event is written without the request waiting for it: look until it is there.
  Reply events;
  for (int tries = 0; tries < 1000; ++tries) {
    events = Get("/v1/populi/events", {{"kind", "auth.refused"}, {"node", "metrics"}});
    ASSERT_EQ(events.status, 200);
    if (!events.obj().at("events").as_array().empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(events.obj().at("events").as_array().size(), 1u) << events.raw.body;
  EXPECT_EQ(events.obj().at("events").as_array()[0].at("data").at("reason").as_string(), "auth");
  EXPECT_EQ(events.raw.body.find(kStreamMetricsToken), std::string::npos);
}

}  // namespace
}  // namespace populi::control::testing
