// `vox populi status`, `vox populi peers` and `vox doctor` as the real binary, against a real
// `vox populi serve` with two nodes registered through the HTTP API.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "cli/serve_process.h"
#include "client/control_plane_api.h"
#include "config/test_files.h"
#include "mesh/json.h"

namespace populi::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "views-test-admin-token-0123456789abcdef";

json::object ParseObject(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return !ec && v.is_object() ? v.as_object() : json::object();
}

// The check named section/name in `doctor --json` output, or an empty object.
json::object FindCheck(const json::object& doctor, const std::string& section,
                       const std::string& name) {
  const auto* checks = doctor.if_contains("checks");
  if (checks == nullptr || !checks->is_array()) return {};
  for (const auto& c : checks->as_array()) {
    const auto& o = c.as_object();
    if (o.at("section") == section.c_str() && o.at("name") == name.c_str()) return o;
  }
  return {};
}

// The screen column (UTF-8 aware) where the second-to-last space-separated cell of `line` starts.
size_t ColumnOfSecondToLastCell(const std::string& line) {
  std::vector<size_t> starts;
  size_t column = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const auto byte = static_cast<unsigned char>(line[i]);
    if ((byte & 0xC0) == 0x80) continue;
    if (line[i] != ' ' && (i == 0 || line[i - 1] == ' ')) starts.push_back(column);
    ++column;
  }
  return starts.size() >= 2 ? starts[starts.size() - 2] : std::string::npos;
}

// One serve for the suite: "gpu-box" (two identical H100s, one running task, one exec lease,
// heartbeating) and "cpu-box" (no GPU, silent, so it goes down after two seconds; tests that
// show it down wait for that).
class ViewsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ServeOptions options;
    options.extra_config =
        "[mesh.control]\nheartbeat_secs = 1\nsuspect_after = 1\ndown_after = 2\n";
    serve_ = new ServeProcess(dir_->Sub("mesh"), kAdminToken, options);
    ASSERT_TRUE(serve_->Start());
    client::ControlPlaneApi api(serve_->url(), kAdminToken);
    mesh::NodeRecord gpu_box;
    gpu_box.id = "gpu-box";
    gpu_box.version = "0.1.0";
    gpu_box.running_tasks = {"task-1"};
    gpu_box.cpu.model = "Demo CPU";
    gpu_box.cpu.cores = 8;
    gpu_box.cpu.threads = 16;
    const std::pair<const char*, const char*> gpus[] = {{"GPU-a", "0000:01:00.0"},
                                                        {"GPU-b", "0000:02:00.0"}};
    for (const auto& [uuid, bus] : gpus) {
      mesh::GpuDevice gpu;
      gpu.uuid = uuid;
      gpu.name = "NVIDIA H100 80GB HBM3";
      gpu.vendor = "nvidia";
      gpu.pci_bus_id = bus;
      gpu.memory_total_bytes = 85899345920;
      gpu.memory_free_bytes = 80530636800;
      gpu.memory_allocatable_bytes = 38654705664;
      gpu_box.gpus.push_back(gpu);
    }
    mesh::NodeRecord cpu_box;
    cpu_box.id = "cpu-box";
    cpu_box.version = "0.0.9";
    for (const mesh::NodeRecord* node : {&gpu_box, &cpu_box}) {
      auto joined = api.Join(*node);
      ASSERT_TRUE(joined.ok()) << joined.status().ToString();
    }
    auto lease = api.GrantLease(
        {.scope_key = "task:task-1", .holder_node_id = "gpu-box", .ttl_ms = 3'600'000});
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    heartbeat_ = new std::thread([] {
      client::ControlPlaneApi beat(serve_->url(), kAdminToken);
      while (!stop_.load()) {
        (void)beat.Heartbeat({.node_id = "gpu-box"});
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }

  // Waits (generously) until the silent cpu-box has been judged down; once per process.
  static void WaitUntilCpuBoxIsDown() {
    static bool down = false;
    client::ControlPlaneApi api(serve_->url(), kAdminToken);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!down && std::chrono::steady_clock::now() < deadline) {
      auto nodes = api.Nodes();
      if (nodes.ok()) {
        for (const mesh::NodeRecord& n : nodes->nodes) {
          if (n.id == "cpu-box" && n.state == mesh::NodeState::kDown) down = true;
        }
      }
      if (!down) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(down) << "cpu-box was never judged down";
  }
  static void TearDownTestSuite() {
    stop_ = true;
    if (heartbeat_ != nullptr) heartbeat_->join();
    delete heartbeat_;
    delete serve_;
    delete dir_;
  }

  // A mock probe fixture with a CPU and no GPU; returns its path.
  static std::string NoGpuFixture(const std::string& failure = {}) {
    const std::string path = dir_->Sub(failure.empty() ? "nogpu.json" : "failing.json");
    WriteFile(path, R"({"cpu":{"model":"Demo CPU","cores":4,"threads":8,"numa_nodes":1})" +
                        (failure.empty() ? std::string() : ",\"failure\":" + failure) + "}");
    return path;
  }

  static inline TempDir* dir_ = nullptr;
  static inline ServeProcess* serve_ = nullptr;
  static inline std::thread* heartbeat_ = nullptr;
  static inline std::atomic<bool> stop_{false};
};

TEST_F(ViewsTest, PeersJsonListsBothNodesWithStateGpusTasksAndLeases) {
  WaitUntilCpuBoxIsDown();
  VoxRun run = serve_->Vox({"populi", "peers", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json::object doc = ParseObject(run.out);
  ASSERT_TRUE(doc.contains("nodes")) << run.out;
  const auto& nodes = doc.at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 2u) << run.out;
  const auto& cpu = nodes[0].as_object();  // sorted by id
  const auto& gpu = nodes[1].as_object();
  EXPECT_EQ(cpu.at("id"), "cpu-box");
  EXPECT_EQ(cpu.at("state"), "down");
  EXPECT_EQ(cpu.at("gpu_summary"), "-");
  EXPECT_EQ(cpu.at("leases").as_int64(), 0);
  EXPECT_EQ(gpu.at("id"), "gpu-box");
  EXPECT_NE(gpu.at("state"), "down") << "it heartbeats every 100 ms";
  EXPECT_EQ(gpu.at("version"), "0.1.0");
  EXPECT_EQ(gpu.at("gpu_summary"), "2\u00d7 H100 80G (72G free)");
  EXPECT_EQ(gpu.at("gpu_free_bytes").to_number<uint64_t>(), 2 * 38654705664ull);
  EXPECT_EQ(gpu.at("tasks").as_int64(), 1);
  EXPECT_EQ(gpu.at("leases").as_int64(), 1);
  EXPECT_GT(doc.at("server_time_ms").as_int64(), 0);
}

TEST_F(ViewsTest, PeersTableHasTheHeaderAndGroupsIdenticalGpus) {
  WaitUntilCpuBoxIsDown();
  VoxRun run = serve_->Vox({"populi", "peers"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("ID"));
  const std::string header = run.out.substr(0, run.out.find('\n'));
  for (const char* column :
       {"ID", "STATE", "LAST SEEN", "VERSION", "GPUS", "TASKS", "LEASES", "PAIRED", "KEY"}) {
    EXPECT_THAT(header, HasSubstr(column));
  }
  const std::string gpu_row = run.out.substr(run.out.find("\ngpu-box") + 1);
  EXPECT_THAT(gpu_row.substr(0, gpu_row.find('\n')), HasSubstr("2\u00d7 H100 80G (72G free)"));
  const std::string cpu_row = run.out.substr(run.out.find("\ncpu-box") + 1);
  EXPECT_THAT(cpu_row.substr(0, cpu_row.find('\n')), HasSubstr("down"));
  EXPECT_THAT(cpu_row.substr(0, cpu_row.find('\n')), HasSubstr(" ago"));
  EXPECT_THAT(run.out, Not(HasSubstr("\033["))) << "no colour when piped";
  // Columns line up on screen although "×" takes two bytes.
  const size_t tasks_column = ColumnOfSecondToLastCell(header);
  EXPECT_EQ(ColumnOfSecondToLastCell(gpu_row.substr(0, gpu_row.find('\n'))), tasks_column);
  EXPECT_EQ(ColumnOfSecondToLastCell(cpu_row.substr(0, cpu_row.find('\n'))), tasks_column);
}

TEST_F(ViewsTest, PeersStateFilterKeepsOnlyThatState) {
  WaitUntilCpuBoxIsDown();
  VoxRun down = serve_->Vox({"populi", "peers", "--state", "down", "--json"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  const json::object doc = ParseObject(down.out);
  const auto& nodes = doc.at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 1u) << down.out;
  EXPECT_EQ(nodes[0].at("id"), "cpu-box");

  VoxRun table = serve_->Vox({"populi", "peers", "--state", "down"});
  EXPECT_THAT(table.out, HasSubstr("cpu-box"));
  EXPECT_THAT(table.out, Not(HasSubstr("gpu-box")));

  VoxRun bad = serve_->Vox({"populi", "peers", "--state", "sleeping"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

TEST_F(ViewsTest, PeersOnATerminalColoursStatesAndPagesUnlessTold) {
  WaitUntilCpuBoxIsDown();
  const std::map<std::string, std::string> pager = {{"PAGER", "sed s/^/paged:/"}};
  VoxRun paged = serve_->VoxOnTerminal({"populi", "peers"}, pager);
  ASSERT_EQ(paged.exit_code, 0) << paged.err;
  EXPECT_THAT(paged.out, HasSubstr("paged:"));
  EXPECT_THAT(paged.out, HasSubstr("\033[31mdown\033[0m"));

  VoxRun direct = serve_->VoxOnTerminal({"populi", "peers", "--no-pager", "--no-color"}, pager);
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_THAT(direct.out, HasSubstr("cpu-box"));
  EXPECT_THAT(direct.out, Not(HasSubstr("paged:")));
  EXPECT_THAT(direct.out, Not(HasSubstr("\033[")));

  VoxRun piped = serve_->Vox({"populi", "peers"}, pager);
  EXPECT_THAT(piped.out, Not(HasSubstr("paged:"))) << "piped output is never paged";
}

TEST_F(ViewsTest, StatusSaysAnUnjoinedNodeHasNotJoinedAndHowToJoin) {
  WaitUntilCpuBoxIsDown();
  VoxRun run = serve_->Vox({"populi", "status"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("has not joined"));
  EXPECT_THAT(run.out, HasSubstr("vox populi join URL"));
  EXPECT_THAT(run.out, HasSubstr("vox populi serve"));
  EXPECT_THAT(run.out, HasSubstr("2 nodes"));
  EXPECT_THAT(run.out, HasSubstr("1 down"));
  EXPECT_THAT(run.out, HasSubstr("clock offset"));

  VoxRun json_run = serve_->Vox({"populi", "status", "--json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  json::object doc = ParseObject(json_run.out);
  EXPECT_EQ(doc.at("node").at("joined"), false);
  EXPECT_THAT(std::string(doc.at("node").at("hint").as_string()), HasSubstr("vox populi join"));
  EXPECT_EQ(doc.at("mesh").at("nodes").as_int64(), 2);
  EXPECT_EQ(doc.at("mesh").at("down").as_int64(), 1);
  EXPECT_EQ(doc.at("mesh").at("control_url"), serve_->url().c_str());
  EXPECT_FALSE(doc.at("mesh").at("wire_version").as_string().empty());
  EXPECT_TRUE(doc.contains("clock_offset_ms"));
}

TEST_F(ViewsTest, StatusShowsAJoinedNodeAsTheControlPlaneSeesIt) {
  VoxRun run = serve_->Vox({"populi", "status", "--json"}, {{"VOX_MESH_NODE_ID", "gpu-box"}});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json::object node = ParseObject(run.out).at("node").as_object();
  EXPECT_EQ(node.at("id"), "gpu-box");
  EXPECT_EQ(node.at("joined"), true);
  EXPECT_EQ(node.at("gpus").as_int64(), 2);
  EXPECT_EQ(node.at("gpu_summary"), "2\u00d7 H100 80G (72G free)");
  EXPECT_EQ(node.at("probe_failures").as_int64(), 0);

  VoxRun text = serve_->Vox({"populi", "status"}, {{"VOX_MESH_NODE_ID", "gpu-box"}});
  EXPECT_THAT(text.out, HasSubstr("Demo CPU: 8 cores / 16 threads"));
  EXPECT_THAT(text.out, Not(HasSubstr("has not joined")));
}

TEST_F(ViewsTest, DoctorWithTheControlPlaneUpPassesEveryCheck) {
  VoxRun run = serve_->Vox({"doctor", "--json", "--fixture", NoGpuFixture()});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  json::object doc = ParseObject(run.out);
  EXPECT_EQ(doc.at("ok"), true) << run.out;
  EXPECT_EQ(FindCheck(doc, "control", "reachable").at("status"), "ok");
  EXPECT_EQ(FindCheck(doc, "control", "auth").at("status"), "ok");
  EXPECT_EQ(FindCheck(doc, "clock", "offset").at("status"), "ok");
  EXPECT_EQ(FindCheck(doc, "probes", "mock").at("status"), "ok");
  EXPECT_EQ(FindCheck(doc, "capacity", "advertised").at("status"), "ok");
  // The serve holds the store: reported, not taken.
  json::object store = FindCheck(doc, "store", "store");
  EXPECT_EQ(store.at("status"), "ok");
  EXPECT_THAT(
      std::string(store.at("message").as_string()),
      HasSubstr("in use by the running control plane (pid " + std::to_string(serve_->pid()) + ")"));
  // Config sources, with the secret masked.
  json::object token = FindCheck(doc, "config", "mesh.token");
  EXPECT_THAT(std::string(token.at("message").as_string()), HasSubstr("from user"));
  EXPECT_THAT(run.out, Not(HasSubstr(kAdminToken)));

  // The same checks as text under `vox populi doctor`.
  VoxRun text = serve_->Vox({"populi", "doctor", "--fixture", NoGpuFixture()});
  EXPECT_EQ(text.exit_code, 0) << text.out;
  EXPECT_THAT(text.out, HasSubstr("reachable: " + serve_->url()));
  EXPECT_THAT(text.out, HasSubstr("0 failed"));
}

TEST_F(ViewsTest, DoctorWithABadTokenFailsTheAuthCheck) {
  VoxRun run = serve_->Vox({"doctor", "--json", "--fixture", NoGpuFixture()},
                           {{"VOX_MESH_TOKEN", "not-the-token"}});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  json::object doc = ParseObject(run.out);
  EXPECT_EQ(doc.at("ok"), false);
  EXPECT_EQ(FindCheck(doc, "control", "reachable").at("status"), "ok");
  json::object auth = FindCheck(doc, "control", "auth");
  EXPECT_EQ(auth.at("status"), "fail");
  EXPECT_THAT(std::string(auth.at("message").as_string()), HasSubstr("HTTP 401"));
  EXPECT_THAT(std::string(auth.at("hint").as_string()), HasSubstr("VOX_MESH_TOKEN"));
  EXPECT_THAT(std::string(FindCheck(doc, "config", "mesh.token").at("message").as_string()),
              HasSubstr("env, VOX_MESH_TOKEN"));
  EXPECT_THAT(run.out, Not(HasSubstr("not-the-token")));
}

TEST_F(ViewsTest, DoctorWarnsWhenAnAdvertisedGpuWasNotProbed) {
  VoxRun run = serve_->Vox({"doctor", "--json", "--fixture", NoGpuFixture()},
                           {{"VOX_MESH_ADVERTISE_GPU", "1"}});
  EXPECT_EQ(run.exit_code, 0) << "a warning is not a failure: " << run.out;
  json::object conflict = FindCheck(ParseObject(run.out), "capacity", "VOX_MESH_ADVERTISE_GPU");
  ASSERT_FALSE(conflict.empty()) << run.out;
  EXPECT_EQ(conflict.at("status"), "warn");
  EXPECT_THAT(std::string(conflict.at("message").as_string()), HasSubstr("0 GPUs"));
}

TEST_F(ViewsTest, DoctorWarnsAboutAnEncryptionKeyOlderThanMaxKeyAgeUntilItIsRotated) {
  // The serve runs without a worker: `pair --rotate` makes the node's first key; age it by
  // rewriting its creation time.
  const std::string keys_path = serve_->root() + "/home/populi/encryption-keys.json";
  ASSERT_EQ(serve_->Vox({"populi", "pair", "--rotate"}).exit_code, 0);
  json::object keys = ParseObject(ReadFile(keys_path));
  ASSERT_FALSE(keys.empty()) << keys_path;
  keys["created_ms"] = 1'000;
  WriteFile(keys_path, json::serialize(keys), 0600);
  ::chmod(keys_path.c_str(), 0600);
  VoxRun old = serve_->Vox({"doctor", "--json", "--fixture", NoGpuFixture()},
                           {{"VOX_MESH_POLICY_MAX_KEY_AGE", "30d"}});
  EXPECT_EQ(old.exit_code, 0) << "a warning is not a failure: " << old.out;
  json::object check = FindCheck(ParseObject(old.out), "keys", "encryption key");
  ASSERT_FALSE(check.empty()) << old.out;
  EXPECT_EQ(check.at("status"), "warn");
  EXPECT_THAT(std::string(check.at("message").as_string()), HasSubstr("max_key_age"));
  EXPECT_THAT(std::string(check.at("hint").as_string()), HasSubstr("pair --rotate"));

  VoxRun rotated = serve_->Vox({"populi", "pair", "--rotate"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_THAT(rotated.out, HasSubstr("new encryption key SHA256:"));
  VoxRun fresh = serve_->Vox({"doctor", "--json", "--fixture", NoGpuFixture()},
                             {{"VOX_MESH_POLICY_MAX_KEY_AGE", "30d"}});
  EXPECT_EQ(FindCheck(ParseObject(fresh.out), "keys", "encryption key").at("status"), "ok")
      << fresh.out;
  EXPECT_THAT(ReadFile(keys_path), HasSubstr("previous_x25519_secret_b64"));
}

TEST_F(ViewsTest, DoctorFailsAFailedProbeWithItsHint) {
  const std::string fixture = NoGpuFixture(
      R"({"kind":"permission_denied","message":"cannot open /dev/nvidiactl",
          "hint":"add the user to the video group"})");
  VoxRun run = serve_->Vox({"doctor", "--json", "--fixture", fixture});
  EXPECT_EQ(run.exit_code, 1) << run.out;
  json::object probe = FindCheck(ParseObject(run.out), "probes", "mock");
  EXPECT_EQ(probe.at("status"), "fail");
  EXPECT_EQ(probe.at("outcome"), "failed");
  EXPECT_EQ(probe.at("hint"), "add the user to the video group");
}

TEST_F(ViewsTest, AStoppedControlPlaneIsAFailedCheckForDoctorAndExit3ForStatusAndPeers) {
  ServeProcess stopped(dir_->Sub("stopped"), kAdminToken);
  ASSERT_TRUE(stopped.Start());
  const std::string url = stopped.url();
  stopped.Stop();

  VoxRun doctor =
      stopped.Vox({"doctor", "--json", "--control-url", url, "--fixture", NoGpuFixture()});
  EXPECT_EQ(doctor.exit_code, 1) << doctor.out << doctor.err;
  json::object doc = ParseObject(doctor.out);
  json::object reachable = FindCheck(doc, "control", "reachable");
  EXPECT_EQ(reachable.at("status"), "fail");
  EXPECT_THAT(std::string(reachable.at("message").as_string()), HasSubstr("unreachable"));
  EXPECT_THAT(std::string(reachable.at("hint").as_string()), HasSubstr("vox populi serve"));
  EXPECT_TRUE(FindCheck(doc, "control", "auth").empty()) << "nothing to authenticate against";
  // No serve holds the store now: it is opened read-only and checked.
  json::object store = FindCheck(doc, "store", "store");
  EXPECT_EQ(store.at("status"), "ok");
  EXPECT_THAT(std::string(store.at("message").as_string()), HasSubstr("consistent"));

  VoxRun status = stopped.Vox({"populi", "status", "--control-url", url});
  EXPECT_EQ(status.exit_code, 3) << status.err;
  EXPECT_THAT(status.err, HasSubstr("hint: "));
  VoxRun peers = stopped.Vox({"populi", "peers"});  // serve removed its control-url file
  EXPECT_EQ(peers.exit_code, 3) << peers.err;
}

}  // namespace
}  // namespace populi::testing
