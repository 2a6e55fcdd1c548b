// The web dashboard end to end: tests/interop/dashboard.mjs drives Debian's Chromium (headless,
// through playwright-core pinned by tests/interop/package-lock.json) against a real two-node
// loopback mesh: `vox populi serve` with its local worker, and one joined agent with two mock
// GPUs. One mesh, one browser launch, every view (the script's header lists the steps). The
// screenshots land in dashboard-output/ beside this binary (docs/dashboard.md shows them).
//
// Needs `node`, tests/interop/node_modules/playwright-core (scripts/setup runs `npm ci`) and
// /usr/bin/chromium (scripts/setup installs Debian's `chromium`). Without them the test skips
// with the reason, unless POPULI_TEST_UI_REQUIRED is set (scripts/test sets it): then it fails.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/serve_process.h"
#include "models/model_fixtures.h"
#include "support/child_process.h"

namespace populi::testing {
namespace {
namespace fs = std::filesystem;

constexpr char kToken[] = "dashboard-test-admin-token-0123456789ab";
constexpr char kReadOnlyToken[] = "dashboard-test-read-only-token-01234567";
const fs::path kInteropDir = fs::path(POPULI_SOURCE_DIR_AT_BUILD) / "tests" / "interop";
constexpr char kChromium[] = "/usr/bin/chromium";

using support::Child;
using support::ExecutableOnPath;

// dashboard-output/ beside this test binary: kept after the run for the screenshots.
fs::path OutputDir() {
  char self[PATH_MAX] = {};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  return fs::path(std::string(self, n > 0 ? static_cast<size_t>(n) : 0)).parent_path() /
         "dashboard-output";
}

// Why the browser test cannot run here, or "".
std::string Missing(const std::string& node) {
  if (node.empty()) return "no `node` on PATH (scripts/setup installs Debian's nodejs)";
  if (!fs::exists(kInteropDir / "node_modules" / "playwright-core" / "package.json"))
    return "no tests/interop/node_modules/playwright-core (scripts/setup runs npm ci)";
  if (access(kChromium, X_OK) != 0)
    return std::string("no ") + kChromium + " (scripts/setup installs Debian's chromium)";
  return "";
}

TEST(DashboardTest, EveryViewWorksInChromiumAgainstATwoNodeMesh) {
  const std::string node = ExecutableOnPath("node");
  if (const std::string why = Missing(node); !why.empty()) {
    if (std::getenv("POPULI_TEST_UI_REQUIRED") != nullptr) FAIL() << why;
    GTEST_SKIP() << why;
  }
  TempDir dir;
  const std::string root = dir.Sub("mesh");
  WriteFile(root + "/cpu.json",
            R"({"cpu":{"model":"Demo CPU","cores":4,"threads":8,"numa_nodes":1}})");
  ServeOptions options;
  options.worker = true;
  options.extra_config = std::string("read_only_token = \"") + kReadOnlyToken + "\"\n";
  options.env = {{"VOX_MESH_PROBE_ORDER", "mock"},
                 {"VOX_MESH_PROBE_MOCK_FIXTURE", root + "/cpu.json"},
                 {"VOX_MESH_POLICY_ALLOWED_COMMANDS", "sh"},
                 {"VOX_MESH_CONTROL_HEARTBEAT_SECS", "1"}};
  ServeProcess serve(root, kToken, options);
  ASSERT_TRUE(serve.Start()) << ReadFile(root + "/serve.log");

  // The second node: an agent with two mock GPUs, one of them partly used, and one small GGUF
  // model in its models folder.
  const std::string home = dir.Sub("agent-home");
  WriteFile(home + "/gpus.json", R"({"cpu":{"model":"Demo CPU","cores":8,"threads":16,
    "numa_nodes":1,"memory_total_bytes":34359738368},"gpus":[
    {"uuid":"GPU-ui-0","name":"Demo GPU 24GB","vendor":"nvidia","pci_bus_id":"0000:01:00.0",
     "memory_total_bytes":25769803776,"memory_used_bytes":6442450944,"memory_free_bytes":19327352832},
    {"uuid":"GPU-ui-1","name":"Demo GPU 24GB","vendor":"nvidia","pci_bus_id":"0000:02:00.0",
     "memory_total_bytes":25769803776,"memory_used_bytes":0,"memory_free_bytes":25769803776}]})");
  WriteFile(home + "/config.toml", std::string("[mesh]\ntoken = \"") + kToken + "\"\n", 0600);
  models::testing::WriteBytes(home + "/models/tiny.gguf", models::testing::TinyLlamaGguf().Build());
  auto vars = support::SanitizerVars();
  vars.insert(options.env.begin(), options.env.end());
  vars["VOX_MESH_PROBE_MOCK_FIXTURE"] = home + "/gpus.json";
  vars["VOX_MESH_MODELS_DIRS"] = home + "/models";
  vars["VOX_MESH_MODELS_HUB_CACHE"] = "off";
  vars["VOX_HOME"] = home;
  vars["HOME"] = home;
  Child agent;
  agent.Start(VoxBin(), {"populi", "join", serve.url()}, vars, home, home);
  std::string agent_id;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && agent_id.empty()) {
    std::stringstream s(agent.Out());
    for (std::string line; std::getline(s, line);) {
      if (line.find("running against") == std::string::npos) continue;  // "node <id> running…"
      std::stringstream words(line);
      std::string word;
      words >> word >> agent_id;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(agent_id.empty()) << "the agent did not join: " << agent.Err();

  const fs::path out_dir = OutputDir();
  fs::remove_all(out_dir);
  fs::create_directories(out_dir);
  auto script_vars = support::SanitizerVars();
  script_vars["UI_URL"] = serve.url();
  script_vars["UI_TOKEN"] = kToken;
  script_vars["UI_READ_ONLY_TOKEN"] = kReadOnlyToken;
  script_vars["UI_AGENT_NODE"] = agent_id;
  script_vars["UI_OUT_DIR"] = out_dir.string();
  script_vars["VOX_BIN"] = VoxBin();
  script_vars["VOX_HOME"] = serve.root() + "/home";  // the CLI's token and control URL
  script_vars["HOME"] = dir.Sub("browser-home");
  fs::create_directories(script_vars["HOME"]);
  Child script;
  script.Start(node, {"dashboard.mjs"}, script_vars, kInteropDir.string(), dir.Sub("script"));
  const int rc = script.Wait(400);
  const std::string out = script.Out();
  EXPECT_EQ(rc, 0) << "node dashboard.mjs exited " << rc << "\n--- stdout\n"
                   << out << "--- stderr\n"
                   << script.Err();
  if (rc != 0) return;  // the script printed why
  for (const char* step :
       {"ok signed in; the mesh view shows both nodes alive with GPU bars",
        "ok the CLI task appeared and succeeded in the tasks view without a reload",
        "ok the task page shows its attempt, placement and output",
        "ok the trace waterfall shows the control plane and the agent spans",
        "ok a running task shows on its node and was cancelled from its page",
        "ok the state filter keeps only matching tasks",
        "ok the models view shows the agent's model; leases and events render; the events filter "
        "works",
        "ok the views are reachable by keyboard and focus moves to the new view",
        "ok sign-out forgets the token; a wrong one is refused with a hint; a read_only token may "
        "look",
        "ok the mesh and tasks views fit a phone-width screen",
        "ok no console error, page error or failed request"}) {
    EXPECT_NE(out.find(step), std::string::npos) << "missing: " << step << "\n" << out;
  }
  for (const char* shot : {"mesh", "mesh-running", "tasks", "task", "trace", "task-cancelled",
                           "models", "leases", "events", "mesh-phone", "tasks-phone"}) {
    EXPECT_TRUE(fs::exists(out_dir / (std::string(shot) + ".png"))) << shot;
  }
  std::cout << "screenshots: " << out_dir.string() << "\n" << out;
  agent.Stop();
  serve.Stop(/*graceful=*/false);
}

// The page's event-stream reader (ui/lib.js) against a scripted fetch: a dropped stream resumes
// after the last event it handled (tests/interop/dashboard_stream.mjs). Needs node only.
TEST(DashboardTest, TheEventStreamResumesAfterTheLastEventItHandled) {
  const std::string node = ExecutableOnPath("node");
  if (node.empty()) {
    const char* why = "no `node` on PATH (scripts/setup installs Debian's nodejs)";
    if (std::getenv("POPULI_TEST_UI_REQUIRED") != nullptr) FAIL() << why;
    GTEST_SKIP() << why;
  }
  TempDir dir;
  Child script;
  script.Start(node, {"dashboard_stream.mjs"}, support::SanitizerVars(), kInteropDir.string(),
               dir.Sub("s"));
  const int rc = script.Wait(60);
  const std::string out = script.Out();
  EXPECT_EQ(rc, 0) << out << script.Err();
  for (const char* step : {"ok the stream starts after the given id with the token",
                           "ok a dropped or refused stream resumes after the last event it handled",
                           "ok close() stops it", "ok a log stream stops at its end frame"}) {
    EXPECT_NE(out.find(step), std::string::npos) << "missing: " << step << "\n" << out;
  }
}

}  // namespace
}  // namespace populi::testing
