// Node lifecycle on a real mesh (issue: agent and hardware truth): a control plane and three
// agents as child processes on loopback with 1 s heartbeats, suspect after 2, down after 4.
#include <algorithm>

#include "e2e/mesh_fixture.h"
#include "mesh/json.h"

namespace populi::e2e {
namespace {

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class LifecycleTest : public MeshFixture {
 protected:
  // Control plane and three agents, all alive.
  void StartMesh() {
    StartControl();
    for (size_t i = 0; i < 3; ++i) ids_.push_back(StartAgent(i, static_cast<int>(i)));
    ASSERT_TRUE(WaitFor(
        [&] {
          auto states = NodeStates();
          return std::all_of(ids_.begin(), ids_.end(),
                             [&](const std::string& id) { return states[id] == "alive"; });
        },
        30'000));
  }
  std::vector<std::string> ids_;
};

TEST_F(LifecycleTest, KilledAgentGoesDownWithAnEventWhileTheOthersStayAlive) {
  StartMesh();
  agent(0).Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return NodeStates()[ids_[0]] == "down"; }, 30'000));
  const auto kinds = EventKinds(ids_[0]);
  EXPECT_TRUE(Contains(kinds, "node.suspect"));
  EXPECT_TRUE(Contains(kinds, "node.down"));
  // The node.down event carries how long the node had been silent, on the control plane's
  // clock: at least the down window (4 × 1 s).
  for (const mesh::Event& e : Events()) {
    if (e.kind != "node.down") continue;
    EXPECT_EQ(e.subject, ids_[0]);
    auto data = mesh::ParseJson(e.data_json);  // an event's data is free-form per kind
    ASSERT_TRUE(data.ok()) << e.data_json;
    EXPECT_GE(data->at("silent_ms").as_int64(), 4'000);
  }
  auto states = NodeStates();
  EXPECT_EQ(states[ids_[1]], "alive");
  EXPECT_EQ(states[ids_[2]], "alive");
  // One silent node out of three is not a mass silence.
  EXPECT_FALSE(Contains(EventKinds("control-plane"), "mesh.mass_silence"));
}

TEST_F(LifecycleTest, SigtermLeavesAtOnceAndARestartKeepsTheNodeId) {
  StartMesh();
  EXPECT_EQ(agent(1).Kill(SIGTERM), 0);
  // Leave is immediate: the node is gone from the registry without passing through suspect.
  ASSERT_TRUE(WaitFor([&] { return NodeStates().count(ids_[1]) == 0; }, 10'000));
  auto kinds = EventKinds(ids_[1]);
  EXPECT_TRUE(Contains(kinds, "node.left"));
  EXPECT_FALSE(Contains(kinds, "node.suspect"));
  EXPECT_NE(agent(1).Stderr().find("left the mesh"), std::string::npos) << agent(1).Stderr();

  // Same home → same identity file → same node id.
  EXPECT_EQ(StartAgent(1, 1), ids_[1]);
  ASSERT_TRUE(WaitFor([&] { return NodeStates()[ids_[1]] == "alive"; }, 30'000));
}

TEST_F(LifecycleTest, AgentsBackOffWhileTheControlPlaneIsGoneAndRejoinWhenItReturns) {
  StartMesh();
  control_.Kill(SIGKILL);
  // Every agent notices, logs the failure with the control plane's URL, and retries with
  // backoff (several tries, each announcing its delay).
  ASSERT_TRUE(WaitFor(
      [&] {
        for (size_t i = 0; i < 3; ++i) {
          const std::string err = agent(i).Stderr();
          if (err.find("heartbeat to " + url() + " failed") == std::string::npos) return false;
          if (err.find("; try 4 in ") == std::string::npos) return false;
        }
        return true;
      },
      30'000));
  StartControl();
  // Each agent's next try reaches the restarted control plane (the restart itself lists the
  // nodes as alive from the store, so the agents' own logs are the evidence).
  ASSERT_TRUE(WaitFor(
      [&] {
        for (size_t i = 0; i < 3; ++i) {
          if (agent(i).Stderr().find("reachable again after") == std::string::npos) return false;
        }
        return true;
      },
      30'000));
  auto states = NodeStates();
  for (const auto& id : ids_) EXPECT_EQ(states[id], "alive") << id;
  // The restart's grace period kept every node from being judged down.
  for (const auto& id : ids_) EXPECT_FALSE(Contains(EventKinds(id), "node.down")) << id;
}

TEST_F(LifecycleTest, PausingTheControlPlanePastTheDownWindowMarksNoNodeDown) {
  StartMesh();
  control_.Signal(SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(6'000));  // past down_after (4 s)
  control_.Signal(SIGCONT);
  ASSERT_TRUE(
      WaitFor([&] { return Contains(EventKinds("control-plane"), "control.paused"); }, 20'000));
  // Give the sweeper a few passes after the pause, then check nobody went down.
  std::this_thread::sleep_for(std::chrono::milliseconds(3'000));
  auto states = NodeStates();
  for (const auto& id : ids_) {
    EXPECT_EQ(states[id], "alive") << id;
    EXPECT_FALSE(Contains(EventKinds(id), "node.down")) << id;
  }
}

}  // namespace
}  // namespace populi::e2e
