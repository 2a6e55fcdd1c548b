// `vox populi events` against a real serve: a listing with filters, and `events -f` following
// new events across a restart of the control plane (the stream drops; the follower reconnects
// with Last-Event-ID and shows every event once).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/serve_process.h"
#include "client/control_plane_api.h"
#include "util/random.h"

namespace populi::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kEventsAdminToken[] = "events-admin-token-0123456789";

// A port that was free a moment ago, so a restarted serve can bind the same address.
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// The JSON lines of `text` that parse, as objects.
std::vector<boost::json::object> JsonLines(const std::string& text) {
  std::vector<boost::json::object> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (!ec && v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

class EventsVerbsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (std::filesystem::temp_directory_path() / ("populi-events-" + RandomHex(8))).string();
    ServeOptions options;
    options.bind = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
    // The node joined below never heartbeats: a long interval keeps it alive (no node.suspect
    // event among the ones listed) however slowly a loaded machine runs the test.
    options.extra_config = "[mesh.control]\nheartbeat_secs = 600\n";
    serve_ = std::make_unique<ServeProcess>(root_, kEventsAdminToken, options);
    ASSERT_TRUE(serve_->Start());
    client::ControlPlaneApi api(serve_->url(), kEventsAdminToken);
    mesh::NodeRecord node;
    node.id = "n-ev";
    ASSERT_TRUE(api.Join(node).ok());  // the holder of the leases below
  }
  void TearDown() override {
    if (follower_ > 0) {
      kill(follower_, SIGKILL);
      internal::WaitExit(follower_);
    }
    serve_.reset();
    std::filesystem::remove_all(root_);
  }

  void Grant(const std::string& scope) {
    client::ControlPlaneApi api(serve_->url(), kEventsAdminToken);
    auto lease = api.GrantLease({.scope_key = scope, .holder_node_id = "n-ev", .ttl_ms = 600'000});
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  }

  // Starts `vox <args>` with stdout to a file and returns at once.
  void StartFollower(const std::vector<std::string>& args) {
    follower_out_ = root_ + "/follower.out";
    VoxEnv env;
    env.cwd = root_ + "/ws";
    env.vars["HOME"] = root_ + "/user";
    env.vars["VOX_HOME"] = root_ + "/home";
    const internal::PreparedExec exec(env, args);
    const std::string err_path = root_ + "/follower.err";
    follower_ = fork();
    if (follower_ == 0) {
      const int out = open(follower_out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      exec.Exec();
    }
  }

  // Waits (generously) until the follower has written `n` JSON lines; returns them.
  std::vector<boost::json::object> WaitForLines(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::vector<boost::json::object> lines;
    while (std::chrono::steady_clock::now() < deadline) {
      lines = JsonLines(ReadFile(follower_out_));
      if (lines.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return lines;
  }

  std::string root_;
  std::unique_ptr<ServeProcess> serve_;
  pid_t follower_ = -1;
  std::string follower_out_;
};

TEST_F(EventsVerbsTest, ListsEventsAsJsonLinesOrATableAndFiltersByKindAndNode) {
  Grant("job:a");

  VoxRun json = serve_->Vox({"populi", "events", "--json", "--control-url", serve_->url()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto all = JsonLines(json.out);
  std::vector<std::string> kinds;
  for (const auto& e : all) {
    // The control plane's own events (control.sweeper_acquired when a starved sweeper renews
    // its role late) depend on the machine's load, not on the calls below.
    if (!e.at("kind").as_string().starts_with("control.")) {
      kinds.emplace_back(e.at("kind").as_string());
    }
  }
  EXPECT_THAT(kinds, ::testing::ElementsAre("node.joined", "lease.granted"));

  VoxRun leases = serve_->Vox(
      {"populi", "events", "--json", "--kind", "lease.", "--control-url", serve_->url()});
  ASSERT_EQ(leases.exit_code, 0) << leases.err;
  auto only = JsonLines(leases.out);
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].at("kind").as_string(), "lease.granted");
  EXPECT_EQ(only[0].at("data").at("holder_node_id").as_string(), "n-ev");

  VoxRun after = serve_->Vox({"populi", "events", "--json", "--after", "1", "--node", "n-ev",
                              "--control-url", serve_->url()});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  ASSERT_EQ(JsonLines(after.out).size(), 1u);

  VoxRun table = serve_->Vox({"populi", "events", "--control-url", serve_->url()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("KIND"));
  EXPECT_THAT(table.out, HasSubstr("node.joined"));
  EXPECT_THAT(table.out, HasSubstr("lease.granted"));
}

TEST_F(EventsVerbsTest, FollowShowsNewEventsAndResumesAcrossARestartWithoutLossOrRepeats) {
  Grant("job:1");
  Grant("job:2");
  StartFollower(
      {"populi", "events", "-f", "--json", "--kind", "lease.", "--control-url", serve_->url()});
  auto lines = WaitForLines(2);
  ASSERT_EQ(lines.size(), 2u) << ReadFile(root_ + "/follower.err");
  Grant("job:3");
  lines = WaitForLines(3);
  ASSERT_EQ(lines.size(), 3u);

  // The control plane goes away (its stream ends, the follower's connection drops) and comes
  // back on the same address; events recorded while the follower was reconnecting come through.
  serve_->Stop();
  ASSERT_TRUE(serve_->Start());
  Grant("job:4");
  Grant("job:5");
  lines = WaitForLines(5);
  ASSERT_EQ(lines.size(), 5u) << ReadFile(root_ + "/follower.err");
  Grant("job:6");
  lines = WaitForLines(6);
  ASSERT_EQ(lines.size(), 6u);

  std::set<int64_t> ids;
  std::vector<std::string> scopes;
  for (const auto& e : lines) {
    EXPECT_EQ(e.at("kind").as_string(), "lease.granted");
    EXPECT_TRUE(ids.insert(e.at("id").as_int64()).second) << "shown twice: " << e;
    scopes.emplace_back(e.at("data").at("scope_key").as_string());
  }
  EXPECT_THAT(scopes, ::testing::ElementsAre("job:1", "job:2", "job:3", "job:4", "job:5", "job:6"));
  // Nothing beyond them was written (no repeat after the last one either).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(JsonLines(ReadFile(follower_out_)).size(), 6u);
}

}  // namespace
}  // namespace populi::testing
