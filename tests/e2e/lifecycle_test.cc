// Node lifecycle on a real mesh (issue: agent and hardware truth): a control plane and three
// agents as child processes on loopback with 1 s heartbeats, suspect after 2, down after 4.
#include <algorithm>
#include <chrono>
#include <thread>

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

// The reason recorded on `subject`'s events of `kind`.
// An event's data (free-form per kind) as a JSON object; empty when it is not one.
boost::json::object DataOf(const mesh::Event& e) {
  auto data = mesh::ParseJson(e.data_json);
  return data.ok() && data->is_object() ? data->as_object() : boost::json::object();
}

std::vector<std::string> Reasons(const std::vector<mesh::Event>& events, const std::string& subject,
                                 const std::string& kind) {
  std::vector<std::string> reasons;
  for (const auto& e : events) {
    if (e.kind != kind || e.subject != subject) continue;
    const auto data = DataOf(e);
    const auto* reason = data.if_contains("reason");
    reasons.emplace_back(reason != nullptr && reason->is_string() ? reason->as_string() : "");
  }
  return reasons;
}

TEST_F(LifecycleTest, KilledAgentGoesDownOnItsDroppedConnectionWhileTheOthersStayAlive) {
  StartMesh();
  std::this_thread::sleep_for(std::chrono::milliseconds(1'000));  // its task poll is parked
  agent(0).Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return NodeStates()[ids_[0]] == "down"; }, 30'000));
  // The kernel closed the dead agent's held long-poll: suspect at once, down after the grace,
  // both judged on the dropped connection rather than on heartbeats missed.
  const auto events = Events();
  EXPECT_EQ(Reasons(events, ids_[0], "node.suspect"),
            std::vector<std::string>{"connection_dropped"});
  EXPECT_EQ(Reasons(events, ids_[0], "node.down"), std::vector<std::string>{"connection_dropped"});
  auto states = NodeStates();
  EXPECT_EQ(states[ids_[1]], "alive");
  EXPECT_EQ(states[ids_[2]], "alive");
  // One silent node out of three is not a mass silence.
  EXPECT_FALSE(Contains(EventKinds("control-plane"), "mesh.mass_silence"));
}

TEST_F(LifecycleTest, AFrozenAgentWithItsSocketsOpenGoesDownOnSilenceAndComesBack) {
  StartMesh();
  agent(0).Signal(SIGSTOP);  // a host that vanished without closing anything
  ASSERT_TRUE(WaitFor([&] { return NodeStates()[ids_[0]] == "down"; }, 30'000));
  const auto events = Events();
  EXPECT_EQ(Reasons(events, ids_[0], "node.down"), std::vector<std::string>{"heartbeat_silence"});
  for (const auto& e : events) {
    if (e.kind != "node.down") continue;
    // At least the down window (4 × 1 s) of silence, on the control plane's clock.
    EXPECT_GE(DataOf(e).at("silent_ms").as_int64(), 4'000);
  }
  agent(0).Signal(SIGCONT);
  ASSERT_TRUE(WaitFor([&] { return NodeStates()[ids_[0]] == "alive"; }, 30'000));
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
