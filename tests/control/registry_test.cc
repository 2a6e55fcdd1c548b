#include "fixture.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

class RegistryTest : public ApiFixture {
 protected:
  ControlOptions Options() override {
    ControlOptions o = ApiFixture::Options();
    o.heartbeat_ms = 1000;
    o.suspect_after = 3;
    o.down_after = 6;
    return o;
  }
  std::string StateOf(const std::string& id) {
    Reply r = Get("/v1/populi/nodes");
    for (const auto& n : r.obj().at("nodes").as_array())
      if (n.at("id").as_string() == id) return std::string(n.at("state").as_string());
    return "absent";
  }
};

TEST_F(RegistryTest, JoinIsAnIdempotentUpsertAndListShowsTheNode) {
  Reply a = Join("node-1", {{"version", "1.0"}, {"labels", {{"pool", "gpu"}}}});
  ASSERT_EQ(a.status, 200) << a.raw.body;
  EXPECT_EQ(a.obj().at("state"), "alive");
  Reply b = Join("node-1", {{"version", "1.1"}, {"quarantined", true}});  // client value ignored
  ASSERT_EQ(b.status, 200);
  Reply list = Get("/v1/populi/nodes");
  ASSERT_EQ(list.status, 200);
  const auto& nodes = list.obj().at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].at("version"), "1.1");
  EXPECT_EQ(nodes[0].at("quarantined"), false);
}

TEST_F(RegistryTest, JoinRejectsBadRecords) {
  EXPECT_EQ(Post("/v1/populi/join", json::object{{"id", "has space"}}).status, 400);
  EXPECT_EQ(Post("/v1/populi/join", json::object{{"version", "1"}}).status, 400);
  EXPECT_EQ(Post("/v1/populi/join", json::object{{"id", "n"}, {"visibility", "world"}}).status,
            400);
  EXPECT_EQ(PostRaw("/v1/populi/join", "{\"id\":").status, 400);
}

TEST_F(RegistryTest, HeartbeatUnknownNodeIs404AndKnownIs200) {
  Reply r = Post("/v1/populi/heartbeat", json::object{{"node_id", "ghost"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
  Join("node-1");
  EXPECT_EQ(Post("/v1/populi/heartbeat", json::object{{"node_id", "node-1"}}).status, 200);
}

TEST_F(RegistryTest, LeaveIs204ThenUnknownIs404) {
  Join("node-1");
  EXPECT_EQ(Post("/v1/populi/leave", json::object{{"node_id", "node-1"}}).status, 204);
  EXPECT_EQ(Post("/v1/populi/leave", json::object{{"node_id", "node-1"}}).status, 404);
  EXPECT_EQ(StateOf("node-1"), "absent");
}

TEST_F(RegistryTest, SilenceMovesAliveSuspectDownAndHeartbeatRevives) {
  Join("node-1");
  clock_.Advance(2999);
  ASSERT_TRUE(plane_->SweepOnce().ok());
  EXPECT_EQ(StateOf("node-1"), "alive");
  clock_.Advance(1);
  auto rep = plane_->SweepOnce();
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->state_changes, 1);
  EXPECT_EQ(StateOf("node-1"), "suspect");
  clock_.Advance(3000);
  ASSERT_TRUE(plane_->SweepOnce().ok());
  EXPECT_EQ(StateOf("node-1"), "down");
  EXPECT_EQ(Post("/v1/populi/heartbeat", json::object{{"node_id", "node-1"}}).status, 200);
  EXPECT_EQ(StateOf("node-1"), "alive");

  Reply ev = Get("/v1/populi/events", {{"after", "0"}});
  std::vector<std::string> kinds;
  for (const auto& e : ev.obj().at("events").as_array())
    kinds.emplace_back(e.at("kind").as_string());
  // The first pass took the sweeper role (one replica on this store: this one).
  EXPECT_EQ(kinds, (std::vector<std::string>{"node.joined", "control.sweeper_acquired",
                                             "node.suspect", "node.down", "node.alive"}));
}

TEST_F(RegistryTest, RestartGivesOneDownAfterOfGrace) {
  Join("node-1");
  clock_.Advance(5000);  // suspect by now, not yet down
  ASSERT_TRUE(plane_->SweepOnce().ok());
  Restart();
  clock_.Advance(5999);
  ASSERT_TRUE(plane_->SweepOnce().ok());
  EXPECT_NE(StateOf("node-1"), "down");
  clock_.Advance(1);
  ASSERT_TRUE(plane_->SweepOnce().ok());
  EXPECT_EQ(StateOf("node-1"), "down");
}

TEST_F(RegistryTest, HeartbeatsArePersistedLazily) {
  Join("node-1");
  clock_.Advance(500);
  Post("/v1/populi/heartbeat", json::object{{"node_id", "node-1"}});
  auto stored = store_->GetNode("node-1");
  ASSERT_TRUE(stored.ok() && *stored);
  EXPECT_EQ((*stored)->last_seen_ms, clock_.NowMs() - 500);  // memory only so far
  ASSERT_TRUE(plane_->FlushLiveness().ok());
  stored = store_->GetNode("node-1");
  EXPECT_EQ((*stored)->last_seen_ms, clock_.NowMs());
}

TEST_F(RegistryTest, StaleAfterFilter) {
  Join("old");
  clock_.Advance(10'000);
  Join("new");
  Reply r = Get("/v1/populi/nodes", {{"stale_after_ms", "5000"}});
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.obj().at("nodes").as_array().size(), 1u);
  EXPECT_EQ(r.obj().at("nodes").as_array()[0].at("id"), "new");
  EXPECT_EQ(Get("/v1/populi/nodes", {{"stale_after_ms", "-1"}}).status, 400);
}

class ScopedRegistryTest : public ApiFixture {
 protected:
  ControlOptions Options() override {
    ControlOptions o = ApiFixture::Options();
    o.scope_id = "home";
    return o;
  }
};

TEST_F(ScopedRegistryTest, ScopeMismatchIs403) {
  Reply r = Join("node-1", {{"scope_id", "other"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "permission_denied");
  EXPECT_EQ(Join("node-1").status, 403);  // no scope on a scoped mesh
  EXPECT_EQ(Join("node-1", {{"scope_id", "home"}}).status, 200);
  EXPECT_EQ(
      Post("/v1/populi/heartbeat", json::object{{"node_id", "node-1"}, {"scope_id", "x"}}).status,
      403);
}

TEST_F(RegistryTest, HealthAndVersion) {
  Reply h = Get("/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.obj().at("status"), "ok");
  Reply v = Get("/v1/populi/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.obj().at("version"), "test");
  EXPECT_EQ(Get("/v1/populi/events", {{"after", "x"}}).status, 400);
}

}  // namespace
}  // namespace populi::control::testing
