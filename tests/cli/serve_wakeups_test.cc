// Wake-ups across control-plane replicas (docs/scale-out.md, "Wake-ups across replicas"): two
// real serves on one PostgreSQL schema. A long-poll or an event stream held on the replica that
// does not hold the sweeper role returns when the write that satisfies it goes through the other
// replica, long before its own timeout; an agent attached to that replica that dies is judged by
// the role's holder on its dropped connection rather than on its silence. Without
// POPULI_TEST_PG_DSN they skip (or fail when POPULI_TEST_PG_REQUIRED is set).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cli/serve_fixture.h"
#include "control/http_client.h"

namespace populi::control::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using SteadyClock = std::chrono::steady_clock;

// Far longer than any wake-up needs: a waiter that returns before it was woken, not timed out.
constexpr int kLongPollMaxMs = 20'000;

int64_t MsSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

// The event objects of `kind` about `subject`, read through the serve on `port`.
std::vector<boost::json::object> EventsAbout(int port, const std::string& kind,
                                             const std::string& subject, const Headers& auth) {
  std::vector<boost::json::object> out;
  HttpReply r = HttpCall(port, "GET", "/v1/populi/events?after=0&limit=1000", "", auth);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("events")) return out;
  for (const auto& e : v.at("events").as_array()) {
    if (e.at("kind").as_string() == kind && (subject.empty() || e.at("subject") == subject.c_str()))
      out.push_back(e.as_object());
  }
  return out;
}

// What an event stream on `port` sent until `marker` appeared in it or `limit_ms` passed.
std::string ReadStreamUntil(int port, const std::string& target, const Headers& headers,
                            const std::string& marker, int limit_ms) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string seen;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "\r\n";
    (void)send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    const auto start = SteadyClock::now();
    char buf[4096];
    while (seen.find(marker) == std::string::npos && MsSince(start) < limit_ms) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(limit_ms - MsSince(start))) <= 0) continue;
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return seen;
}

class ServeWakeupsTest : public ServeTest {
 protected:
  // Starts replica a, waits until it holds the sweeper role, then starts replica b, both on one
  // new schema. False (with a failure or a skip recorded) when that did not happen.
  bool StartReplicas(const std::vector<std::string>& extra_env) {
    if (!NeedPostgresEnv("wake_", &env_)) return false;
    auth_ = {{"Authorization", "Bearer " + WriteInitCredentials()}};
    env_.push_back("VOX_MESH_CONTROL_LONG_POLL_MAX_MS=" + std::to_string(kLongPollMaxMs));
    env_.insert(env_.end(), extra_env.begin(), extra_env.end());
    a_ = Start("127.0.0.1:0", env_, false, "data-a");
    EXPECT_GT(a_.port, 0) << a_.first_line << ReadAll(a_.stderr_fd);
    if (a_.port <= 0) return false;
    // b must not hold the role: its own sweeper passes would wake its event streams.
    for (int i = 0; i < 200 && EventsAbout(a_.port, "control.sweeper_acquired", "", auth_).empty();
         ++i)
      usleep(50'000);
    EXPECT_EQ(EventsAbout(a_.port, "control.sweeper_acquired", "", auth_).size(), 1u);
    b_ = Start("127.0.0.1:0", env_, false, "data-b");
    EXPECT_GT(b_.port, 0) << b_.first_line << ReadAll(b_.stderr_fd);
    return b_.port > 0 && !HasFailure();
  }

  void TearDown() override {
    for (ServeProcess* p : {&b_, &a_}) {
      if (p->pid > 0) {
        EXPECT_EQ(Stop(*p, SIGTERM), 0);
      }
    }
    ServeTest::TearDown();
  }

  Headers auth_;
  std::vector<std::string> env_;
  ServeProcess a_, b_;
};

TEST_F(ServeWakeupsTest, ADeliverThroughOneReplicaWakesAnInboxLongPollHeldOnTheOther) {
  if (!StartReplicas({})) return;
  ASSERT_EQ(HttpCall(a_.port, "POST", "/v1/populi/join", R"({"id":"w1"})", auth_).status, 200);
  HttpReply polled;
  int64_t polled_ms = 0;
  std::thread poller([&] {
    const auto start = SteadyClock::now();
    polled = HttpCall(b_.port, "POST", "/v1/populi/a2a/inbox",
                      R"({"receiver":"w1","claimer_node_id":"w1","wait_ms":)" +
                          std::to_string(kLongPollMaxMs) + "}",
                      auth_);
    polled_ms = MsSince(start);
  });
  usleep(1'000'000);  // the poll is parked on b by now
  HttpReply delivered = HttpCall(a_.port, "POST", "/v1/populi/a2a/deliver",
                                 R"({"sender":"s","receiver":"w1","message_type":"agent_message",)"
                                 R"("payload":"through a"})",
                                 auth_);
  poller.join();
  ASSERT_EQ(delivered.status, 200) << delivered.body;
  EXPECT_EQ(polled.status, 200) << polled.body;
  EXPECT_NE(polled.body.find("\"payload\":\"through a\""), std::string::npos) << polled.body;
  EXPECT_LT(polled_ms, kLongPollMaxMs / 2) << "woken by its timeout, not by the deliver";
}

TEST_F(ServeWakeupsTest, AnEventRecordedThroughOneReplicaReachesAStreamOnTheOther) {
  if (!StartReplicas({})) return;
  // A stream with nothing new re-reads the store only every 15 s (its keepalive) unless woken.
  constexpr int kKeepaliveMs = 15'000;
  std::string seen;
  std::thread reader([&] {
    Headers headers = auth_;
    headers.emplace_back("Accept", "text/event-stream");
    seen = ReadStreamUntil(b_.port, "/v1/populi/events?kind=node.joined", headers, "stream-marker",
                           kKeepaliveMs * 2);
  });
  usleep(1'000'000);  // the stream is open on b by now
  const auto joined = SteadyClock::now();
  ASSERT_EQ(HttpCall(a_.port, "POST", "/v1/populi/join", R"({"id":"stream-marker"})", auth_).status,
            200);
  reader.join();
  const int64_t took_ms = MsSince(joined);
  EXPECT_NE(seen.find("stream-marker"), std::string::npos) << seen;
  EXPECT_LT(took_ms, kKeepaliveMs * 2 / 3) << "seen at the stream's keepalive, not woken";
}

TEST_F(ServeWakeupsTest, AnAgentThatDiesAtTheReplicaWithoutTheRoleIsJudgedOnItsDroppedConnection) {
  // Silence alone would take 30 heartbeats; the drop's grace is one second.
  if (!StartReplicas({"VOX_MESH_CONTROL_HEARTBEAT_SECS=1", "VOX_MESH_CONTROL_SUSPECT_AFTER=20",
                      "VOX_MESH_CONTROL_DOWN_AFTER=30",
                      "VOX_MESH_CONTROL_CONNECTION_DROP_GRACE_MS=1000"}))
    return;
  std::vector<std::string> agent_env = env_;
  agent_env.push_back("VOX_MESH_NODE_ID=wx");
  ServeProcess agent = Spawn({"populi", "join", "http://127.0.0.1:" + std::to_string(b_.port),
                              "--data-dir", (dir_ / "data-agent").string()},
                             agent_env);
  ASSERT_NE(agent.first_line.find("running against"), std::string::npos) << agent.first_line;
  for (int i = 0; i < 200 && EventsAbout(a_.port, "node.joined", "wx", auth_).empty(); ++i)
    usleep(50'000);
  ASSERT_EQ(EventsAbout(a_.port, "node.joined", "wx", auth_).size(), 1u);
  usleep(1'500'000);  // the agent's task-inbox poll is held on b by now
  Stop(agent, SIGKILL);
  const auto killed = SteadyClock::now();
  std::vector<boost::json::object> down;
  while (down.empty() && MsSince(killed) < 25'000) {
    down = EventsAbout(a_.port, "node.down", "wx", auth_);
    if (down.empty()) usleep(100'000);
  }
  ASSERT_EQ(down.size(), 1u) << "not judged down before its silence would have";
  EXPECT_EQ(down[0].at("data").at("reason"), "connection_dropped")
      << boost::json::serialize(down[0]);
}

}  // namespace
}  // namespace populi::control::testing
