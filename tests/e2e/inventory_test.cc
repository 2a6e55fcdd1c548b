// The mesh-wide model inventory end to end: a real control plane, two real agents with their own
// VOX_HOMEs and model directories holding GGUF files the test writes, one of them configured
// with an engine endpoint served by a real process on loopback (tests/e2e/fake_engine.mjs under
// node). `vox populi inventory` shows every model with the node that holds it; a file added to a
// directory appears (model.added) and a deleted one goes (model.removed); an agent killed with
// SIGKILL has its models go stale, then gone.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli/serve_process.h"
#include "e2e/mesh_fixture.h"
#include "mesh/inventory_json.h"
#include "mesh/json.h"
#include "models/model_fixtures.h"
#include "support/child_process.h"

namespace populi::e2e {
namespace {

// The first executable `node` on this process's PATH, or "".
std::string NodeOnPath() {
  return populi::testing::support::ExecutableOnPath("node");
}

// A tiny GGUF whose last data byte is `fill`: the same header, another content id.
std::string GgufWith(char fill) {
  std::string bytes = models::testing::TinyLlamaGguf().Build();
  bytes.back() = fill;
  return bytes;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// One (model, holder) pair of `vox populi inventory --json`.
struct Held {
  std::string id, name, node, source, state, where;
  std::optional<bool> loaded;
};

class InventoryE2E : public MeshFixture {
 protected:
  void TearDown() override {
    engine_.Stop();
    MeshFixture::TearDown();
  }

  // Starts the fake engine listing `ids`; its base URL.
  std::string StartEngine(const std::vector<std::string>& ids) {
    const std::string node = NodeOnPath();
    EXPECT_FALSE(node.empty()) << "no `node` on PATH (scripts/setup installs nodejs)";
    if (node.empty()) return "";
    const std::string script =
        (fs::path(POPULI_SOURCE_DIR_AT_BUILD) / "tests/e2e/fake_engine.mjs").string();
    std::vector<std::string> args{script};
    args.insert(args.end(), ids.begin(), ids.end());
    const std::string url = populi::testing::support::StartListening(
        engine_, node, args, root_.string(), (root_ / "engine").string());
    EXPECT_FALSE(url.empty()) << engine_.Err();
    return url;
  }

  // An agent scanning `dir` every `poll` (and the engine at `endpoint`, when given).
  std::string StartModelAgent(size_t index, const fs::path& dir, const std::string& poll,
                              const std::string& endpoint = "") {
    extra_env_["VOX_MESH_MODELS_DIRS"] = dir.string();
    extra_env_["VOX_MESH_MODELS_POLL_INTERVAL"] = poll;
    extra_env_["VOX_MESH_MODELS_HUB_CACHE"] = "off";
    extra_env_["VOX_MESH_INFERENCE_ENDPOINTS"] = endpoint;
    const std::string id = StartAgent(index);
    extra_env_.clear();
    return id;
  }

  testing::VoxRun Inventory(std::vector<std::string> args) {
    testing::VoxEnv env;
    env.cwd = root_.string();
    env.vars = BaseEnv((root_ / "cli-home").string());
    const std::string scratch = (root_ / "cli").string();
    fs::create_directories(scratch);
    args.insert(args.begin(), {"populi", "inventory"});
    args.insert(args.end(), {"--control-url", url()});
    return testing::RunVoxWithin(env, args, scratch);
  }

  // Every (model, holder) of `vox populi inventory --json` (empty when the verb failed).
  std::vector<Held> Holdings() {
    std::vector<Held> out;
    testing::VoxRun run = Inventory({"--json"});
    if (run.exit_code != 0) return out;
    std::stringstream lines(run.out);
    for (std::string line; std::getline(lines, line);) {
      auto v = mesh::ParseJson(line);
      if (!v.ok()) continue;
      auto m = mesh::MeshModelFromJson(*v);
      EXPECT_TRUE(m.ok()) << m.status().ToString() << "\n" << line;
      if (!m.ok()) continue;
      for (const auto& h : m->nodes) {
        out.push_back({m->model.id, m->model.name, h.node_id, std::string(mesh::ToString(h.source)),
                       std::string(mesh::ToString(h.state)),
                       h.path.empty() ? h.endpoint : fs::path(h.path).filename().string(),
                       h.loaded});
      }
    }
    return out;
  }

  // "where@node:state" of every holding, sorted.
  std::vector<std::string> Summary() {
    std::vector<std::string> out;
    for (const auto& h : Holdings()) out.push_back(h.where + "@" + h.node + ":" + h.state);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<mesh::Event> ModelEventsOf(const std::string& kind) {
    std::vector<mesh::Event> out;
    for (const auto& e : Events())
      if (e.kind == kind) out.push_back(e);
    return out;
  }

  // The engine's model found by name (source engine, loaded, its endpoint), the table of one
  // node, and a model nobody holds.
  void CheckTheVerb(const std::string& a, const std::string& b, const std::string& engine) {
    testing::VoxRun found = Inventory({"--model", "engine-model-1", "--json"});
    ASSERT_EQ(found.exit_code, 0) << found.err;
    auto line = mesh::ParseJson(found.out.substr(0, found.out.find('\n')));
    ASSERT_TRUE(line.ok()) << found.out;
    auto model = mesh::MeshModelFromJson(*line);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    EXPECT_EQ(model->model.id, "engine-model-1@" + engine);
    EXPECT_EQ(model->model.context_length, 2048u);
    ASSERT_EQ(model->nodes.size(), 1u);
    EXPECT_EQ(model->nodes[0].node_id, b);
    EXPECT_EQ(model->nodes[0].source, mesh::ModelSource::kEngine);
    EXPECT_EQ(model->nodes[0].loaded, true);
    testing::VoxRun table = Inventory({"--node", a});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("MODEL"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("LOADED"), std::string::npos);
    EXPECT_NE(table.out.find("Tiny Llama  " + a + "  gguf"), std::string::npos) << table.out;
    EXPECT_EQ(table.out.find(b), std::string::npos) << table.out;
    testing::VoxRun missing = Inventory({"--model", "no-such-model"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("error: no node holds model no-such-model"), std::string::npos)
        << missing.err;
  }

  // A file added to node `a`'s directory appears with model.added; deleted, it goes with
  // model.removed.
  void AddThenDeleteAFile(const fs::path& dir, const std::string& a) {
    models::testing::WriteBytes((dir / "c.gguf").string(), GgufWith('\x03'));
    std::string c_id;
    ASSERT_TRUE(WaitFor(
        [&] {
          for (const auto& h : Holdings())
            if (h.where == "c.gguf" && h.node == a) c_id = h.id;
          return !c_id.empty();
        },
        60'000))
        << Joined(Summary());
    ASSERT_EQ(c_id.rfind("sha256:", 0), 0u) << c_id;
    bool added = false;
    for (const auto& e : ModelEventsOf("model.added")) {
      if (e.subject != c_id) continue;
      added = true;
      EXPECT_NE(e.data_json.find("\"node_id\":\"" + a + "\""), std::string::npos) << e.data_json;
    }
    EXPECT_TRUE(added);
    fs::remove(dir / "c.gguf");
    EXPECT_TRUE(WaitFor(
        [&] {
          for (const auto& e : ModelEventsOf("model.removed"))
            if (e.subject == c_id) return true;
          return false;
        },
        60'000));
  }

  populi::testing::support::Child engine_;
};

TEST_F(InventoryE2E, EveryNodesModelsAppearChangeAndGoWithTheirNode) {
  StartControl();
  const std::string engine = StartEngine({"engine-model-1"});
  ASSERT_FALSE(engine.empty());
  const fs::path dir_a = root_ / "models-a", dir_b = root_ / "models-b";
  models::testing::WriteBytes((dir_a / "a.gguf").string(), GgufWith('\x01'));
  models::testing::WriteBytes((dir_b / "nested/b.gguf").string(), GgufWith('\x02'));
  const std::string a = StartModelAgent(0, dir_a, "1s");
  const std::string b = StartModelAgent(1, dir_b, "5s", engine);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());

  const std::vector<std::string> everything = {"a.gguf@" + a + ":fresh", "b.gguf@" + b + ":fresh",
                                               engine + "@" + b + ":fresh"};
  ASSERT_TRUE(WaitFor([&] { return Summary() == everything; }, 60'000)) << Joined(Summary()) << "\n"
                                                                        << agent(1).Stderr();
  CheckTheVerb(a, b, engine);
  AddThenDeleteAFile(dir_a, a);
  EXPECT_TRUE(WaitFor([&] { return Summary() == everything; }, 60'000)) << Joined(Summary());

  // b dies: its models are stale while it is silent, then gone; a's stay fresh.
  agent(1).Kill(SIGKILL);
  ASSERT_TRUE(WaitFor(
      [&] {
        return Summary() == std::vector<std::string>{"a.gguf@" + a + ":fresh",
                                                     "b.gguf@" + b + ":stale",
                                                     engine + "@" + b + ":stale"};
      },
      60'000))
      << Joined(Summary());
  ASSERT_TRUE(WaitFor(
      [&] { return Summary() == std::vector<std::string>{"a.gguf@" + a + ":fresh"}; }, 60'000))
      << Joined(Summary());
  EXPECT_EQ(NodeStates()[b], "down");
}

}  // namespace
}  // namespace populi::e2e
