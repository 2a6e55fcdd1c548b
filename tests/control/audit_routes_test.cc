// The audit log from the control plane's side: admin actions append entries in their own
// transaction, GET /v1/populi/audit pages them with the head, and the recorder coalesces the HTTP
// layer's refusals and token use instead of writing once per request.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "control/audit_recorder.h"
#include "control/fixture.h"
#include "mesh/audit_json.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

class AuditRoutesTest : public ApiFixture {
 protected:
  // Every entry, after the store's writer has run everything submitted so far.
  std::vector<mesh::AuditEntry> AllAudit() {
    EXPECT_TRUE(store_->Write([](store::WriteTxn&) { return Status::Ok(); }).ok());
    auto page = store_->ListAudit(0, 10000);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->entries : std::vector<mesh::AuditEntry>{};
  }
  std::vector<mesh::AuditEntry> AuditOfKind(const std::string& kind) {
    std::vector<mesh::AuditEntry> out;
    for (auto& e : AllAudit()) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
};

TEST_F(AuditRoutesTest, AdminActionsAreRecordedWithTheirActorAndPagedWithTheHead) {
  Join("a");
  ASSERT_EQ(Post("/v1/populi/admin/quarantine", json::object{{"node_id", "a"}}).status, 200);
  ASSERT_EQ(Post("/v1/populi/admin/maintenance", json::object{{"node_id", "a"}}).status, 200);
  ASSERT_EQ(
      Post("/v1/populi/admin/maintenance", json::object{{"node_id", "a"}, {"on", false}}).status,
      200);
  // A refused action records nothing: the entry rolls back with it.
  EXPECT_EQ(Post("/v1/populi/admin/quarantine", json::object{{"node_id", "ghost"}}).status, 404);

  Reply page = Get("/v1/populi/audit", {{"limit", "2"}});
  ASSERT_EQ(page.status, 200) << page.raw.body;
  auto decoded = mesh::AuditPageFromJson(page.body);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->entries.size(), 2u);
  EXPECT_EQ(decoded->entries[0].kind, "node.quarantined");
  EXPECT_EQ(decoded->entries[0].actor, "admin");
  EXPECT_EQ(decoded->entries[0].subject, "a");
  EXPECT_EQ(decoded->entries[1].kind, "node.maintenance");
  ASSERT_TRUE(decoded->head.has_value());
  EXPECT_EQ(decoded->head->seq, 3);
  Reply rest = Get("/v1/populi/audit", {{"after", "2"}});
  auto tail = mesh::AuditPageFromJson(rest.body);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->entries.size(), 1u);
  EXPECT_EQ(tail->entries[0].kind, "node.maintenance_cleared");
  EXPECT_EQ(Get("/v1/populi/audit", {{"after", "x"}}).status, 400);
}

TEST_F(AuditRoutesTest, LeaseRevokeIsRecorded) {
  Join("a");
  Reply g = Post("/v1/populi/exec/lease/grant",
                 json::object{{"scope_key", "s1"}, {"holder_node_id", "a"}, {"ttl_ms", 60000}});
  ASSERT_EQ(g.status, 200) << g.raw.body;
  const std::string id(g.obj().at("lease_id").as_string());
  ASSERT_EQ(Post("/v1/populi/admin/exec-lease/revoke", json::object{{"lease_id", id}}).status, 200);
  auto revoked = AuditOfKind("lease.revoked");
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].subject, id);
  EXPECT_NE(revoked[0].data_json.find("\"scope_key\":\"s1\""), std::string::npos);
}

TEST_F(AuditRoutesTest, RefusalFloodFromOneSourceIsCoalescedWithACount) {
  AuditRecorder recorder(*store_, clock_, {.window_ms = 60'000});
  for (int i = 0; i < 500; ++i) recorder.AuthRefused("10.0.0.9", 401, "nodes.list", "");
  recorder.Flush(false);  // the window has not ended: nothing more
  auto during = AuditOfKind("auth.failed");
  ASSERT_EQ(during.size(), 1u);  // the first refusal, at once
  EXPECT_EQ(during[0].actor, "10.0.0.9");
  EXPECT_EQ(during[0].subject, "nodes.list");
  clock_.Advance(60'000);
  recorder.Flush(false);
  auto after = AuditOfKind("auth.failed");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_NE(after[1].data_json.find("\"count\":499"), std::string::npos) << after[1].data_json;
  recorder.Flush(true);  // nothing left to write
  EXPECT_EQ(AuditOfKind("auth.failed").size(), 2u);
  // A 403 is its own kind.
  recorder.AuthRefused("10.0.0.9", 403, "admin.quarantine", "read_only");
  auto denied = AuditOfKind("auth.denied");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_NE(denied[0].data_json.find("read_only"), std::string::npos);
}

TEST_F(AuditRoutesTest, ManySourcesShareOneBucketPastTheCap) {
  AuditRecorder recorder(*store_, clock_, {.window_ms = 60'000, .max_sources = 2});
  for (int ip = 1; ip <= 50; ++ip)
    recorder.AuthRefused("10.0.1." + std::to_string(ip), 401, "r", "");
  auto entries = AuditOfKind("auth.failed");
  ASSERT_EQ(entries.size(), 3u);  // two tracked sources and the shared bucket
  EXPECT_EQ(entries[2].actor, "many");
  recorder.Flush(true);
  auto flushed = AuditOfKind("auth.failed");
  ASSERT_EQ(flushed.size(), 4u);
  EXPECT_NE(flushed[3].data_json.find("\"count\":47"), std::string::npos) << flushed[3].data_json;
}

TEST_F(AuditRoutesTest, TokenUseIsRecordedOnFirstUseThenHourlyWithACount) {
  AuditRecorder recorder(*store_, clock_);
  for (int i = 0; i < 100; ++i) recorder.TokenUsed("ci", http::Role::kSubmitter);
  auto first = AuditOfKind("token.used");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].actor, "ci");
  EXPECT_EQ(first[0].subject, "submitter");
  clock_.Advance(3'600'000);
  recorder.TokenUsed("ci", http::Role::kSubmitter);
  auto hourly = AuditOfKind("token.used");
  ASSERT_EQ(hourly.size(), 2u);
  EXPECT_NE(hourly[1].data_json.find("\"count\":100"), std::string::npos) << hourly[1].data_json;
  // Each JWT has its own id: they are counted as one "jwt" per role.
  recorder.TokenUsed("jwt:abc", http::Role::kWorker);
  recorder.TokenUsed("jwt:def", http::Role::kWorker);
  auto jwt = AuditOfKind("token.used");
  ASSERT_EQ(jwt.size(), 3u);
  EXPECT_EQ(jwt[2].actor, "jwt");
}

TEST_F(AuditRoutesTest, AuditRouteNeedsTheAdminRole) {
  const http::Route* route = nullptr;
  bool exists = false;
  std::map<std::string, std::string> params;
  route = router_.Match(http::Method::kGet, "/v1/populi/audit", &params, &exists);
  ASSERT_NE(route, nullptr);
  ASSERT_EQ(route->roles.size(), 1u);
  EXPECT_EQ(route->roles[0], http::Role::kAdmin);
}

}  // namespace
}  // namespace populi::control::testing
