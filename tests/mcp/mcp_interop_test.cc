// The acceptance test of the MCP server: the official MCP TypeScript SDK client
// (tests/interop/mcp.mjs, @modelcontextprotocol/sdk pinned by package-lock.json) drives the real
// `vox populi mcp` over stdio and a real serve's /mcp over Streamable HTTP with its bearer token,
// on a two-node loopback mesh (serve with its local worker, plus one joined agent): initialize,
// tools/list with every schema validated, submit_task → wait_task → task_logs, an unknown task
// id that must come back as a tool error with a hint; over HTTP also a read_only token's tools and
// the session and protocol-version rules.
//
// Needs `node` on PATH and tests/interop/node_modules (scripts/setup runs `npm ci`). Without them
// the tests skip with the reason, unless POPULI_TEST_MCP_REQUIRED is set (scripts/test sets it):
// then they fail.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/serve_process.h"
#include "support/child_process.h"

namespace populi::testing {
namespace {
namespace fs = std::filesystem;

constexpr char kMcpToken[] = "mcp-interop-admin-token-0123456789abcdef";
constexpr char kReadOnlyToken[] = "mcp-interop-read-only-token-0123456789ab";
const fs::path kInteropDir = fs::path(POPULI_SOURCE_DIR_AT_BUILD) / "tests" / "interop";

std::string NodeOnPath() {
  return support::ExecutableOnPath("node");
}

using support::Child;

using support::SanitizerVars;

class McpInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string root = dir_->Sub("mesh");
    WriteFile(root + "/cpu.json",
              R"({"cpu":{"model":"Demo CPU","cores":4,"threads":8,"numa_nodes":1}})");
    ServeOptions options;
    options.worker = true;
    options.extra_config = std::string("read_only_token = \"") + kReadOnlyToken + "\"\n";
    options.env = {{"VOX_MESH_PROBE_ORDER", "mock"},
                   {"VOX_MESH_PROBE_MOCK_FIXTURE", root + "/cpu.json"},
                   {"VOX_MESH_POLICY_ALLOWED_COMMANDS", "sh"},
                   {"VOX_MESH_CONTROL_HEARTBEAT_SECS", "1"}};
    serve_ = new ServeProcess(root, kMcpToken, options);
    if (!serve_->Start()) return;
    // The second node: an agent with its own home, joined with the same token.
    const std::string home = dir_->Sub("agent-home");
    WriteFile(home + "/config.toml", std::string("[mesh]\ntoken = \"") + kMcpToken + "\"\n", 0600);
    auto vars = SanitizerVars();
    vars.insert(options.env.begin(), options.env.end());
    vars["VOX_HOME"] = home;
    vars["HOME"] = home;
    agent_ = new Child();
    agent_->Start(VoxBin(), {"populi", "join", serve_->url()}, vars, home, home);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && agent_id_.empty()) {
      std::stringstream s(agent_->Out());
      for (std::string line; std::getline(s, line);) {
        // "node <id> running against <url>"
        if (line.find("running against") == std::string::npos) continue;
        std::stringstream words(line);
        std::string node;
        words >> node >> agent_id_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  static void TearDownTestSuite() {
    if (agent_ != nullptr) agent_->Stop();
    if (serve_ != nullptr) serve_->Stop(/*graceful=*/false);
    delete agent_;
    delete serve_;
    delete dir_;
  }

  void SetUp() override {
    std::string why;
    node_ = NodeOnPath();
    if (node_.empty()) {
      why = "no `node` on PATH (scripts/setup installs Debian's nodejs)";
    } else if (!fs::exists(kInteropDir / "node_modules" / "@modelcontextprotocol" / "sdk" /
                           "package.json")) {
      why = "no tests/interop/node_modules/@modelcontextprotocol/sdk (scripts/setup runs npm ci)";
    }
    if (!why.empty()) {
      if (std::getenv("POPULI_TEST_MCP_REQUIRED") != nullptr) FAIL() << why;
      GTEST_SKIP() << why;
    }
    ASSERT_FALSE(serve_->url().empty()) << "serve did not start";
    ASSERT_FALSE(agent_id_.empty()) << "the agent did not join: " << agent_->Err();
  }

  // Runs mcp.mjs in `mode`; its output, with a failure when it did not exit 0.
  std::string RunScript(const std::string& mode) {
    auto vars = SanitizerVars();
    vars["VOX_BIN"] = VoxBin();
    vars["MCP_URL"] = serve_->url();
    vars["MCP_TOKEN"] = kMcpToken;
    vars["MCP_READ_ONLY_TOKEN"] = kReadOnlyToken;
    vars["AGENT_NODE_ID"] = agent_id_;
    vars["VOX_HOME"] = serve_->root() + "/home";  // the stdio server's config: token, control URL
    vars["HOME"] = serve_->root() + "/user";
    const std::string scratch = dir_->Sub("node-" + mode);
    Child node;
    node.Start(node_, {"mcp.mjs", mode}, vars, kInteropDir.string(), scratch);
    const int rc = node.Wait(300);
    EXPECT_EQ(rc, 0) << "node mcp.mjs " << mode << " exited " << rc << "\n--- stdout\n"
                     << node.Out() << "--- stderr\n"
                     << node.Err();
    return node.Out();
  }

  static TempDir* dir_;
  static ServeProcess* serve_;
  static Child* agent_;
  static std::string agent_id_;
  std::string node_;
};

TempDir* McpInteropTest::dir_ = nullptr;
ServeProcess* McpInteropTest::serve_ = nullptr;
Child* McpInteropTest::agent_ = nullptr;
std::string McpInteropTest::agent_id_;

TEST_F(McpInteropTest, SdkClientDrivesTheStdioServer) {
  const std::string out = RunScript("stdio");
  EXPECT_NE(out.find("ok stdio: the task succeeded"), std::string::npos) << out;
  EXPECT_NE(out.find("ok stdio: wait_task sent progress notifications"), std::string::npos);
  EXPECT_NE(out.find("ok stdio: the tool error has the code and a hint"), std::string::npos);
}

TEST_F(McpInteropTest, SdkClientDrivesTheHttpServerWithTheBearerToken) {
  const std::string out = RunScript("http");
  EXPECT_NE(out.find("ok http: the task ran on the joined agent"), std::string::npos) << out;
  EXPECT_NE(out.find("ok http: task_logs has its output"), std::string::npos);
  EXPECT_NE(out.find("ok http: the tool error has the code and a hint"), std::string::npos);
  EXPECT_NE(out.find("ok http: a read_only token may not call submit_task"), std::string::npos);
  EXPECT_NE(out.find("ok http: a session ended by DELETE is 404"), std::string::npos);
}

}  // namespace
}  // namespace populi::testing
