// The real `vox populi serve` process: start-up line, control-url file, graceful stop, a restart
// (SIGKILL) between deliver and claim, and a port already in use.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "cli/serve_fixture.h"
#include "control/http_client.h"

namespace populi::control::testing {
namespace {

TEST_F(ServeTest, PrintsOneListeningLineWritesControlUrlAndStopsOnSigterm) {
  ServeProcess p = Start();
  ASSERT_GT(p.port, 0) << "first line: " << p.first_line;
  std::ifstream url_file(dir_ / "data" / "control-url");
  std::string url;
  std::getline(url_file, url);
  EXPECT_EQ(url, "http://127.0.0.1:" + std::to_string(p.port));
  EXPECT_EQ(HttpCall(p.port, "GET", "/health").status, 200);
  kill(p.pid, SIGTERM);
  int status = 0;
  waitpid(p.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string rest = ReadAll(p.stdout_fd);
  EXPECT_EQ(rest, "") << "stdout must hold exactly the listening line";
  close(p.stdout_fd);
  close(p.stderr_fd);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data" / "control-url"));
}

TEST_F(ServeTest, StartsWithTheCredentialsInitWritesAndTheSharedSecretIsAdmin) {
  // `vox populi init` writes one secret as both mesh.token and mesh.auth.admin_token.
  const std::string secret = WriteInitCredentials();
  ServeProcess p = Start();
  ASSERT_GT(p.port, 0) << "first line: " << p.first_line;
  EXPECT_EQ(HttpCall(p.port, "GET", "/v1/populi/nodes").status, 401);
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + secret}};
  EXPECT_EQ(HttpCall(p.port, "GET", "/v1/populi/nodes", "", auth).status, 200);
  // An admin-only route: authorized (404 for the unknown node), not 403.
  EXPECT_EQ(HttpCall(p.port, "POST", "/v1/populi/admin/quarantine",
                     R"({"node_id":"ghost","quarantined":true})", auth)
                .status,
            404);
  EXPECT_EQ(Stop(p, SIGTERM), 0);
}

TEST_F(ServeTest, LocalWorkerHasItsOwnCredentialNotTheAdminToken) {
  const std::string secret = WriteInitCredentials();
  ServeProcess p = Start("127.0.0.1:0", {}, /*with_worker=*/true);
  ASSERT_GT(p.port, 0) << "first line: " << p.first_line;
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + secret}};
  // Wait (bounded) until the local node has joined.
  bool joined = false;
  for (int i = 0; i < 300 && !joined; ++i) {
    const auto nodes = HttpCall(p.port, "GET", "/v1/populi/nodes", "", auth);
    joined = nodes.status == 200 && nodes.body.find("\"id\"") != std::string::npos;
    if (!joined) usleep(50'000);
  }
  ASSERT_TRUE(joined);
  kill(p.pid, SIGTERM);
  int status = 0;
  waitpid(p.pid, &status, 0);
  const std::string log = ReadAll(p.stderr_fd);
  close(p.stdout_fd);
  close(p.stderr_fd);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(log.find("principal=local-worker route=nodes.join"), std::string::npos) << log;
  EXPECT_EQ(log.find("principal=admin route=nodes.heartbeat"), std::string::npos) << log;
  // The agent's first probe is summarised once in the log (MESH-045).
  EXPECT_NE(log.find("hardware: cpu="), std::string::npos) << log;
}

TEST_F(ServeTest, LogLevelAndFormatComeFromTheConfiguration) {
  ServeProcess quiet = Start("127.0.0.1:0", {"VOX_MESH_OBSERVABILITY_LOG_LEVEL=error"});
  ASSERT_GT(quiet.port, 0) << quiet.first_line;
  EXPECT_EQ(HttpCall(quiet.port, "GET", "/health").status, 200);
  const std::string quiet_log = [&] {
    kill(quiet.pid, SIGTERM);
    waitpid(quiet.pid, nullptr, 0);
    return ReadAll(quiet.stderr_fd);
  }();
  close(quiet.stdout_fd);
  close(quiet.stderr_fd);
  EXPECT_EQ(quiet_log.find("[info]"), std::string::npos) << quiet_log;

  ServeProcess json = Start("127.0.0.1:0", {"VOX_MESH_OBSERVABILITY_LOG_FORMAT=json"});
  ASSERT_GT(json.port, 0) << json.first_line;
  EXPECT_EQ(HttpCall(json.port, "GET", "/health").status, 200);
  kill(json.pid, SIGTERM);
  waitpid(json.pid, nullptr, 0);
  const std::string json_log = ReadAll(json.stderr_fd);
  close(json.stdout_fd);
  close(json.stderr_fd);
  std::istringstream lines(json_log);
  std::string line;
  int request_lines = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not a JSON line: " << line;
    if (v.at("msg").as_string().find("route=health") != boost::json::string::npos) ++request_lines;
  }
  EXPECT_GE(request_lines, 1) << json_log;
}

TEST_F(ServeTest, KillBetweenDeliverAndClaimLosesNothing) {
  ServeProcess first = Start();
  ASSERT_GT(first.port, 0) << first.first_line;
  ASSERT_EQ(HttpCall(first.port, "POST", "/v1/populi/join", R"({"id":"w1"})").status, 200);
  HttpReply d = HttpCall(first.port, "POST", "/v1/populi/a2a/deliver",
                         R"({"sender":"s","receiver":"w1","message_type":"task_submit",)"
                         R"("payload":"survives"})");
  ASSERT_EQ(d.status, 200) << d.body;
  Stop(first, SIGKILL);

  ServeProcess second = Start();
  ASSERT_GT(second.port, 0) << second.first_line;
  HttpReply c = HttpCall(second.port, "POST", "/v1/populi/a2a/inbox",
                         R"({"receiver":"w1","claimer_node_id":"w1"})");
  EXPECT_EQ(c.status, 200);
  EXPECT_NE(c.body.find("\"payload\":\"survives\""), std::string::npos) << c.body;
  EXPECT_EQ(Stop(second, SIGTERM), 0);
}

TEST_F(ServeTest, PortInUseFailsWithExitCode1AndAClearMessage) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);

  ServeProcess p = Start("127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(p.port, 0);
  int status = 0;
  waitpid(p.pid, &status, 0);
  const std::string err = ReadAll(p.stderr_fd);
  close(p.stdout_fd);
  close(p.stderr_fd);
  close(fd);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(err.find("in use"), std::string::npos) << err;
  EXPECT_EQ(p.first_line, "");
}

}  // namespace
}  // namespace populi::control::testing
