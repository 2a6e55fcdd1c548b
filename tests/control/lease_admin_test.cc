#include "fixture.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

class LeaseAdminTest : public ApiFixture {
 protected:
  ControlOptions Options() override {
    ControlOptions o = ApiFixture::Options();
    o.exec_lease_ttl_ms = 10'000;
    o.bootstrap_token = "boot-secret-123";
    o.mesh_token = "mesh-secret-456";
    o.scope_id = "";
    return o;
  }
  Reply Grant(const std::string& scope, const std::string& holder, int64_t ttl = 0) {
    json::object o{{"scope_key", scope}, {"holder_node_id", holder}};
    if (ttl != 0) o["ttl_ms"] = ttl;
    return Post("/v1/populi/exec/lease/grant", o);
  }
};

TEST_F(LeaseAdminTest, GrantRenewReleaseWithFencingTokens) {
  Join("a");
  Join("b");
  Reply g = Grant("task:1", "a");
  ASSERT_EQ(g.status, 200) << g.raw.body;
  const std::string lease_id(g.obj().at("lease_id").as_string());
  const int64_t token = g.obj().at("fencing_token").as_int64();
  EXPECT_EQ(lease_id.size(), 32u);
  EXPECT_EQ(g.obj().at("expires_ms").as_int64(), clock_.NowMs() + 10'000);  // default TTL
  EXPECT_EQ(Grant("task:1", "b").status, 409);

  Reply r = Post("/v1/populi/exec/lease/renew",
                 json::object{{"lease_id", lease_id}, {"holder_node_id", "a"}, {"ttl_ms", 1}});
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.obj().at("expires_ms").as_int64(), clock_.NowMs() + 1000);  // clamped to 1 s
  EXPECT_EQ(Post("/v1/populi/exec/lease/renew",
                 json::object{{"lease_id", lease_id}, {"holder_node_id", "b"}})
                .status,
            409);
  Reply list = Get("/v1/populi/exec/leases");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.obj().at("leases").as_array().size(), 1u);

  Reply rel = Post("/v1/populi/exec/lease/release",
                   json::object{{"lease_id", lease_id}, {"holder_node_id", "a"}});
  ASSERT_EQ(rel.status, 200) << rel.raw.body;
  EXPECT_EQ(rel.obj().at("state"), "released");
  Reply g2 = Grant("task:1", "b", 7'200'000);
  ASSERT_EQ(g2.status, 200);
  EXPECT_GT(g2.obj().at("fencing_token").as_int64(), token);
  EXPECT_EQ(g2.obj().at("expires_ms").as_int64(), clock_.NowMs() + 3'600'000);  // clamped to 1 h
}

TEST_F(LeaseAdminTest, LeaseErrors) {
  EXPECT_EQ(Grant("task:1", "ghost").status, 403);
  Join("a");
  EXPECT_EQ(Grant("", "a").status, 400);
  EXPECT_EQ(Grant(std::string(3000, 'k'), "a").status, 413);
  EXPECT_EQ(Post("/v1/populi/exec/lease/renew",
                 json::object{{"lease_id", "nothex"}, {"holder_node_id", "a"}})
                .status,
            400);
  EXPECT_EQ(Post("/v1/populi/exec/lease/renew",
                 json::object{{"lease_id", std::string(32, 'a')}, {"holder_node_id", "a"}})
                .status,
            404);
  EXPECT_EQ(Get("/v1/populi/exec/leases", {{"live_only", "2"}}).status, 400);
  Post("/v1/populi/admin/quarantine", json::object{{"node_id", "a"}});
  EXPECT_EQ(Grant("task:2", "a").status, 403);
}

TEST_F(LeaseAdminTest, SweeperExpiresLeasesAndAdminRevokes) {
  Join("a");
  Reply g = Grant("task:1", "a", 1000);
  const std::string id(g.obj().at("lease_id").as_string());
  clock_.Advance(1000);
  auto rep = plane_->SweepOnce();
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->leases_expired, 1);
  Reply g2 = Grant("task:1", "a");
  const std::string id2(g2.obj().at("lease_id").as_string());
  Reply rv = Post("/v1/populi/admin/exec-lease/revoke", json::object{{"lease_id", id2}});
  ASSERT_EQ(rv.status, 200) << rv.raw.body;
  EXPECT_EQ(rv.obj().at("state"), "revoked");
  EXPECT_EQ(
      Post("/v1/populi/admin/exec-lease/revoke", json::object{{"lease_id", std::string(32, 'b')}})
          .status,
      404);
  EXPECT_EQ(
      Get("/v1/populi/exec/leases", {{"live_only", "0"}}).obj().at("leases").as_array().size(), 2u);
}

TEST_F(LeaseAdminTest, MaintenanceUntilForAndAutoClear) {
  EXPECT_EQ(Post("/v1/populi/admin/maintenance", json::object{{"node_id", "ghost"}}).status, 404);
  EXPECT_EQ(Post("/v1/populi/admin/quarantine", json::object{{"node_id", "ghost"}}).status, 404);
  Join("a");
  EXPECT_EQ(Post("/v1/populi/admin/maintenance",
                 json::object{{"node_id", "a"}, {"until_ms", clock_.NowMs() - 1}})
                .status,
            400);
  Reply m = Post("/v1/populi/admin/maintenance",
                 json::object{{"node_id", "a"}, {"until_ms", clock_.NowMs() + 5000}});
  ASSERT_EQ(m.status, 200) << m.raw.body;
  EXPECT_EQ(m.obj().at("maintenance"), true);
  EXPECT_EQ(Grant("task:1", "a").status, 403);
  clock_.Advance(5000);
  auto rep = plane_->SweepOnce();
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->maintenance_cleared, 1);
  auto stored = store_->GetNode("a");
  EXPECT_FALSE((*stored)->maintenance);
  EXPECT_EQ(Grant("task:1", "a").status, 200);
  Reply forever = Post("/v1/populi/admin/maintenance", json::object{{"node_id", "a"}});
  EXPECT_EQ(forever.obj().at("maintenance"), true);
  clock_.Advance(30LL * 86'400'000);
  ASSERT_TRUE(plane_->SweepOnce().ok());
  EXPECT_TRUE((*store_->GetNode("a"))->maintenance);  // no deadline: stays until cleared
  Reply off = Post("/v1/populi/admin/maintenance", json::object{{"node_id", "a"}, {"on", false}});
  EXPECT_EQ(off.obj().at("maintenance"), false);
}

TEST_F(LeaseAdminTest, BootstrapIsOneTimeAndSurvivesRestart) {
  Reply wrong = Post("/v1/populi/bootstrap/exchange", json::object{{"bootstrap_token", "guess"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.raw.body.find("boot-secret"), std::string::npos);
  Reply ok = Post("/v1/populi/bootstrap/exchange",
                  json::object{{"bootstrap_token", "boot-secret-123"}});  // not burnt by the guess
  ASSERT_EQ(ok.status, 200) << ok.raw.body;
  EXPECT_EQ(ok.obj().at("mesh_token"), "mesh-secret-456");
  EXPECT_EQ(
      Post("/v1/populi/bootstrap/exchange", json::object{{"bootstrap_token", "boot-secret-123"}})
          .status,
      410);
  Restart();
  EXPECT_EQ(
      Post("/v1/populi/bootstrap/exchange", json::object{{"bootstrap_token", "boot-secret-123"}})
          .status,
      410);
}

class ExpiringBootstrapTest : public ApiFixture {
 protected:
  ControlOptions Options() override {
    ControlOptions o = ApiFixture::Options();
    o.bootstrap_token = "t";
    o.mesh_token = "m";
    o.bootstrap_expires_ms = clock_.NowMs() + 1000;
    return o;
  }
};

TEST_F(ExpiringBootstrapTest, ExpiredTokenIs410) {
  clock_.Advance(1000);
  EXPECT_EQ(Post("/v1/populi/bootstrap/exchange", json::object{{"bootstrap_token", "t"}}).status,
            410);
}

TEST_F(ApiFixture, BootstrapDisabledIs404) {
  EXPECT_EQ(Post("/v1/populi/bootstrap/exchange", json::object{{"bootstrap_token", "t"}}).status,
            404);
}

}  // namespace
}  // namespace populi::control::testing
