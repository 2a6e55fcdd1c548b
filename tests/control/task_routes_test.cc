// Task routes on a hand-driven clock: placement with lease + inbox delivery in one step, the
// report checks (current attempt, lease, fencing token, signature) with their audit events,
// lease expiry → lost → re-placed, and a revoke after a result that must not flap the task.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "control/fixture.h"
#include "crypto/ed25519.h"
#include "mesh/task.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

class TaskRoutesTest : public ApiFixture {
 protected:
  ControlOptions Options() override {
    ControlOptions o = ApiFixture::Options();
    o.exec_lease_ttl_ms = 3'000;
    return o;
  }
  void SetUp() override {
    ApiFixture::SetUp();
    keys_ = *crypto::GenerateEd25519();
    const std::string pub = crypto::Base64(keys_.public_key.data(), keys_.public_key.size());
    ASSERT_EQ(Join("w1", {{"ed25519_pub_key_b64", pub}}).status, 200);
  }
  json::object Submit(const std::string& script = "true") {
    Reply r = Post("/v1/populi/tasks",
                   json::object{{"command", "sh"}, {"args", json::array{"-c", script}}});
    EXPECT_EQ(r.status, 201) << r.raw.body;
    return r.obj();
  }
  static const json::object& Last(const json::object& task) {
    return task.at("attempts").as_array().back().as_object();
  }
  json::object Report(const json::object& task, json::object extra = {}) {
    const auto& a = Last(task);
    extra["attempt"] = a.at("number");
    extra["node_id"] = a.at("node_id");
    extra["lease_id"] = a.at("lease_id");
    extra["fencing_token"] = a.at("fencing_token");
    return extra;
  }
  json::object Result(const json::object& task, int exit_code, const crypto::Ed25519KeyPair& keys) {
    const auto& a = Last(task);
    const std::string text = mesh::ResultSigningText(
        std::string(task.at("id").as_string()), static_cast<int32_t>(a.at("number").as_int64()),
        std::string(a.at("lease_id").as_string()), a.at("fencing_token").as_int64(), exit_code, "",
        crypto::Sha256Hex("out\n"));
    return Report(task, {{"exit_code", exit_code},
                         {"error", ""},
                         {"stdout_tail", "out"},
                         {"stderr_tail", ""},
                         {"signature_b64", crypto::SignBase64(keys, text)}});
  }
  int CountEvents(const std::string& kind) {
    int n = 0;
    const Reply events = Get("/v1/populi/events", {{"limit", "1000"}});
    for (const auto& e : events.obj().at("events").as_array())
      if (e.at("kind").as_string() == kind) ++n;
    return n;
  }
  crypto::Ed25519KeyPair keys_;
};

TEST_F(TaskRoutesTest, SubmitPlacesGrantsTheLeaseAndDeliversTheAssignment) {
  auto task = Submit();
  EXPECT_EQ(task.at("state").as_string(), "placed");
  const auto& a = Last(task);
  EXPECT_EQ(a.at("node_id").as_string(), "w1");
  EXPECT_EQ(a.at("dispatch").as_string(), "remote");
  auto leases = Get("/v1/populi/exec/leases", {{"live_only", "1"}}).obj().at("leases").as_array();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].at("lease_id"), a.at("lease_id"));
  EXPECT_EQ(leases[0].at("holder_node_id").as_string(), "w1");
  EXPECT_EQ(leases[0].at("scope_key").as_string(),
            "task:" + std::string(task.at("id").as_string()));
  auto inbox = Post("/v1/populi/a2a/inbox", json::object{{"receiver", mesh::TaskInboxFor("w1")},
                                                         {"claimer_node_id", "w1"}});
  ASSERT_EQ(inbox.status, 200) << inbox.raw.body;
  ASSERT_EQ(inbox.obj().at("messages").as_array().size(), 1u);
  const auto& msg = inbox.obj().at("messages").as_array()[0].as_object();
  EXPECT_EQ(msg.at("message_type").as_string(), "task_submit");
  auto payload = json::parse(msg.at("payload").as_string());
  EXPECT_EQ(payload.at("lease_id"), a.at("lease_id"));
  EXPECT_EQ(payload.at("fencing_token"), a.at("fencing_token"));
}

TEST_F(TaskRoutesTest, ReportsFromAnythingButTheCurrentHolderAreRefusedAndAudited) {
  auto task = Submit();
  const std::string base = "/v1/populi/tasks/" + std::string(task.at("id").as_string());
  json::object stale = Report(task);
  stale["fencing_token"] = Last(task).at("fencing_token").as_int64() - 1;
  EXPECT_EQ(Post(base + "/start", stale).status, 409);
  json::object foreign = Report(task);
  foreign["node_id"] = "w2";
  EXPECT_EQ(Post(base + "/start", foreign).status, 409);
  EXPECT_EQ(Post(base + "/start", Report(task)).status, 200);
  // A result signed by another key is refused; the lease stays live and the right one lands.
  auto stranger = *crypto::GenerateEd25519();
  Reply forged = Post(base + "/result", Result(task, 0, stranger));
  EXPECT_EQ(forged.status, 409);
  EXPECT_NE(forged.raw.body.find("signature"), std::string::npos);
  EXPECT_EQ(CountEvents("task.report_refused"), 3);
  Reply ok = Post(base + "/result", Result(task, 0, keys_));
  ASSERT_EQ(ok.status, 200) << ok.raw.body;
  EXPECT_EQ(ok.obj().at("state").as_string(), "succeeded");
  // A replay of the same result is refused: the attempt ended and the lease completed.
  EXPECT_EQ(Post(base + "/result", Result(task, 0, keys_)).status, 409);
  // A revoke racing after the result cannot flap the task.
  Reply revoke = Post("/v1/populi/admin/exec-lease/revoke",
                      json::object{{"lease_id", Last(task).at("lease_id")}});
  EXPECT_NE(revoke.status, 200);
  EXPECT_EQ(Get(base).obj().at("state").as_string(), "succeeded");
}

TEST_F(TaskRoutesTest, ExpiredLeaseLosesTheAttemptAndTheTaskIsPlacedAgainWithANewerToken) {
  auto task = Submit();
  const std::string base = "/v1/populi/tasks/" + std::string(task.at("id").as_string());
  ASSERT_EQ(Post(base + "/start", Report(task)).status, 200);
  // The holder stops renewing; heartbeats keep the node alive so it can be chosen again.
  clock_.Advance(3'500);
  Join("w1", {{"ed25519_pub_key_b64", crypto::Base64(keys_.public_key.data(), 32)}});
  ASSERT_TRUE(plane_->SweepOnce().ok());
  auto again = Get(base).obj();
  ASSERT_EQ(again.at("attempts").as_array().size(), 2u);
  const auto& first = again.at("attempts").as_array()[0].as_object();
  EXPECT_EQ(first.at("state").as_string(), "lost");
  EXPECT_EQ(first.at("error").as_string(), "lease_expired");
  EXPECT_EQ(Last(again).at("dispatch").as_string(), "fallback");
  EXPECT_GT(Last(again).at("fencing_token").as_int64(), first.at("fencing_token").as_int64());
  // The first attempt's late result is fenced off.
  EXPECT_EQ(Post(base + "/result", Result(task, 0, keys_)).status, 409);
  EXPECT_EQ(Post(base + "/result", Result(again, 0, keys_)).status, 200);
}

TEST_F(TaskRoutesTest, BadSpecsAreRefusedWithTheField) {
  Reply r = Post("/v1/populi/tasks", json::object{{"command", ""}});
  EXPECT_EQ(r.status, 400);
  r = Post("/v1/populi/tasks", json::object{{"command", "x"}, {"kind", "training"}});
  EXPECT_EQ(r.status, 400);
  r = Post("/v1/populi/tasks",
           json::object{{"command", "x"}, {"resources", json::object{{"gpu_memory_bytes", 1}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Get("/v1/populi/tasks").obj().at("tasks").as_array().size(), 0u);
  EXPECT_EQ(Get("/v1/populi/tasks/t-nope").status, 404);
}

// MESH-124 / MESH-161: every transition of a task's lease is an event about that lease, with the
// task's scope: granted at placement, renewed by the holder, completed by the result, revoked by
// an admin, expired by the sweeper.
TEST_F(TaskRoutesTest, EveryTaskLeaseTransitionIsAnEventAboutThatLease) {
  auto completed = Submit();
  const std::string completed_lease(Last(completed).at("lease_id").as_string());
  ASSERT_EQ(
      Post("/v1/populi/exec/lease/renew",
           json::object{{"lease_id", completed_lease}, {"holder_node_id", "w1"}, {"ttl_ms", 3'000}})
          .status,
      200);
  const std::string completed_base =
      "/v1/populi/tasks/" + std::string(completed.at("id").as_string());
  ASSERT_EQ(Post(completed_base + "/start", Report(completed)).status, 200);
  ASSERT_EQ(Post(completed_base + "/result", Result(completed, 0, keys_)).status, 200);

  auto revoked = Submit();
  const std::string revoked_lease(Last(revoked).at("lease_id").as_string());
  ASSERT_EQ(
      Post("/v1/populi/admin/exec-lease/revoke", json::object{{"lease_id", revoked_lease}}).status,
      200);

  auto cancelled = Submit();
  const std::string cancelled_lease(Last(cancelled).at("lease_id").as_string());
  ASSERT_EQ(Post("/v1/populi/tasks/" + std::string(cancelled.at("id").as_string()) + "/cancel",
                 json::object{})
                .status,
            200);

  auto expired = Submit();
  const std::string expired_lease(Last(expired).at("lease_id").as_string());
  clock_.Advance(3'500);
  // The node stays alive (so its attempts are not lost to node_down); only the lease lapses.
  Join("w1", {{"ed25519_pub_key_b64", crypto::Base64(keys_.public_key.data(), 32)}});
  ASSERT_TRUE(plane_->SweepOnce().ok());

  std::map<std::string, std::vector<std::string>> kinds_by_lease;
  std::map<std::string, std::string> scope_by_lease;
  const Reply events = Get("/v1/populi/events", {{"limit", "1000"}, {"kind", "lease."}});
  ASSERT_EQ(events.status, 200);
  for (const auto& v : events.obj().at("events").as_array()) {
    const auto& e = v.as_object();
    const std::string lease(e.at("subject").as_string());
    kinds_by_lease[lease].emplace_back(e.at("kind").as_string());
    scope_by_lease[lease] = std::string(e.at("data").at("scope_key").as_string());
  }
  using Kinds = std::vector<std::string>;
  EXPECT_EQ(kinds_by_lease[completed_lease],
            (Kinds{"lease.granted", "lease.renewed", "lease.completed"}));
  EXPECT_EQ(kinds_by_lease[revoked_lease], (Kinds{"lease.granted", "lease.revoked"}));
  EXPECT_EQ(kinds_by_lease[cancelled_lease], (Kinds{"lease.granted", "lease.revoked"}));
  EXPECT_EQ(kinds_by_lease[expired_lease], (Kinds{"lease.granted", "lease.expired"}));
  EXPECT_EQ(scope_by_lease[completed_lease], "task:" + std::string(completed.at("id").as_string()));
  EXPECT_EQ(scope_by_lease[revoked_lease], "task:" + std::string(revoked.at("id").as_string()));
  EXPECT_EQ(scope_by_lease[expired_lease], "task:" + std::string(expired.at("id").as_string()));
}

}  // namespace
}  // namespace populi::control::testing
