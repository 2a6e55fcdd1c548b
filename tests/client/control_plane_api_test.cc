// client::ControlPlaneApi against a real control plane on 127.0.0.1: node, A2A, exec lease, admin,
// bootstrap and system calls send the mesh types and read typed replies; error replies become the
// server's Status; replies the client cannot read are errors naming the request and the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "client/api_server.h"
#include "mesh/json.h"

namespace populi::client::testing {
namespace {

using ::testing::HasSubstr;

mesh::NodeRecord Node(const std::string& id) {
  mesh::NodeRecord n;
  n.id = id;
  n.version = "0.1.0";
  n.visibility = mesh::Visibility::kHybrid;
  n.labels = {{"gpu", "h100"}};
  mesh::GpuDevice gpu;
  gpu.uuid = "GPU-" + id;
  gpu.name = "Test GPU";
  gpu.memory_total_bytes = uint64_t{80} << 30;
  gpu.memory_free_bytes = uint64_t{70} << 30;
  n.gpus.push_back(gpu);
  return n;
}

mesh::NewMessage Message(const std::string& receiver, const std::string& key = {}) {
  mesh::NewMessage m;
  m.sender = "submitter-1";
  m.receiver = receiver;
  m.message_type = "agent_message";
  m.payload = R"({"hello":1})";
  m.idempotency_key = key;
  return m;
}

TEST_F(ApiServerTest, JoinHeartbeatListAndLeaveCarryTheRecord) {
  ControlPlaneApi api = Api();
  auto joined = api.Join(Node("gpu-1"));
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  EXPECT_EQ(joined->node.id, "gpu-1");
  EXPECT_EQ(joined->node.state, mesh::NodeState::kAlive);
  EXPECT_EQ(joined->heartbeat_ms, Options().heartbeat_ms);
  EXPECT_EQ(joined->down_after_ms, Options().down_ms());

  auto nodes = api.Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  EXPECT_EQ(nodes->server_time_ms, clock_.NowMs());
  ASSERT_EQ(nodes->nodes.size(), 1u);
  const mesh::NodeRecord& listed = nodes->nodes[0];
  EXPECT_EQ(listed.visibility, mesh::Visibility::kHybrid);
  EXPECT_EQ(listed.labels.at("gpu"), "h100");
  ASSERT_EQ(listed.gpus.size(), 1u);
  EXPECT_EQ(listed.gpus[0].memory_free_bytes, uint64_t{70} << 30);

  auto beat = api.Heartbeat({"gpu-1", ""});
  ASSERT_TRUE(beat.ok()) << beat.status().ToString();
  EXPECT_EQ(beat->node_id, "gpu-1");
  EXPECT_EQ(beat->state, mesh::NodeState::kAlive);

  ASSERT_TRUE(api.Leave({"gpu-1"}).ok());
  EXPECT_TRUE(api.Nodes()->nodes.empty());
  auto gone = api.Heartbeat({"gpu-1", ""});
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_THAT(gone.status().hint(), HasSubstr("/v1/populi/join"));
}

TEST_F(ApiServerTest, AnErrorReplyIsTheServersCodeMessageAndHint) {
  auto missing = Api().GetTask("t-no-such");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "task t-no-such does not exist");
  EXPECT_THAT(missing.status().hint(), HasSubstr("GET /v1/populi/tasks"));

  mesh::TaskSpec spec;
  spec.command = "true";
  auto refused = Api(kReadOnlyToken).Submit(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied);
  EXPECT_FALSE(refused.status().hint().empty());

  auto stranger = Api("not-a-token-of-this-mesh").Nodes();
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.status().code(), Code::kUnauthenticated);

  mesh::NewMessage bad = Message("n-1");
  bad.priority = 1;
  bad.message_type = "no_such_type";
  auto invalid = Api().Deliver(bad);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(invalid.status().message(), HasSubstr("no_such_type"));
}

TEST_F(ApiServerTest, DeliverClaimRenewAndAckAMessage) {
  ControlPlaneApi api = Api();
  ASSERT_TRUE(api.Join(Node("w1")).ok());
  auto first = api.Deliver(Message("w1", "key-1"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->duplicate);
  auto again = api.Deliver(Message("w1", "key-1"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message_id, first->message_id);

  mesh::InboxRequest claim;
  claim.receiver = "w1";
  claim.claimer_node_id = "w1";
  claim.max_messages = 4;
  auto page = api.Inbox(claim);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->messages.size(), 1u);
  EXPECT_EQ(page->messages[0].id, first->message_id);
  EXPECT_EQ(page->messages[0].payload, R"({"hello":1})");
  EXPECT_EQ(page->messages[0].state, mesh::MessageState::kClaimed);

  const std::string token = page->messages[0].claim_token;
  EXPECT_FALSE(token.empty());
  auto renewed = api.RenewClaim({"w1", first->message_id, "w1", token, 30'000});
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_EQ(renewed->message_id, first->message_id);
  EXPECT_EQ(renewed->claim_expires_ms, clock_.NowMs() + 30'000);

  mesh::AckRequest ack;
  ack.receiver = "w1";
  ack.message_ids = {first->message_id};
  ack.claim_token = token;
  auto acked = api.Ack(ack);
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ(acked->acked, std::vector<int64_t>{first->message_id});
  EXPECT_TRUE(api.Inbox({.receiver = "w1"})->messages.empty());

  mesh::DeliverBatchRequest batch;
  batch.messages = {Message("w1"), Message("w2")};
  auto results = api.DeliverBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->results.size(), 2u);
  EXPECT_GT(results->results[1].message_id, results->results[0].message_id);
}

TEST_F(ApiServerTest, ExecLeasesGrantRenewListReleaseAndRevoke) {
  ControlPlaneApi api = Api();
  ASSERT_TRUE(api.Join(Node("w1")).ok());
  auto granted = api.GrantLease({"job:1", "", "w1", 60'000});
  ASSERT_TRUE(granted.ok()) << granted.status().ToString();
  EXPECT_EQ(granted->state, mesh::LeaseState::kGranted);
  EXPECT_EQ(granted->expires_ms, clock_.NowMs() + 60'000);
  auto renewed = api.RenewLease({"", granted->lease_id, "w1", 60'000});
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_EQ(renewed->state, mesh::LeaseState::kRenewed);
  EXPECT_EQ(renewed->fencing_token, granted->fencing_token);
  ASSERT_EQ(api.Leases()->leases.size(), 1u);

  auto released = api.ReleaseLease({"", granted->lease_id, "w1", 0});
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  EXPECT_EQ(released->state, mesh::LeaseState::kReleased);
  EXPECT_TRUE(api.Leases()->leases.empty());
  EXPECT_EQ(api.Leases(/*live_only=*/false)->leases.size(), 1u);

  auto second = api.GrantLease({"job:2", "", "w1", 0});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(second->fencing_token, 0);
  auto revoked = api.RevokeLease(second->lease_id);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->state, mesh::LeaseState::kRevoked);
  auto twice = api.RevokeLease(second->lease_id);
  ASSERT_FALSE(twice.ok());
  EXPECT_FALSE(twice.status().hint().empty());
}

TEST_F(ApiServerTest, MaintenanceAndQuarantineAnswerWithTheNodeRecord) {
  ControlPlaneApi api = Api();
  ASSERT_TRUE(api.Join(Node("w1")).ok());
  auto on = api.Maintenance({.node_id = "w1", .on = true, .for_ms = 60'000});
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_TRUE(on->maintenance);
  EXPECT_EQ(on->maintenance_until_ms, clock_.NowMs() + 60'000);
  auto off = api.Maintenance({.node_id = "w1", .on = false});
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->maintenance);
  auto quarantined = api.Quarantine({"w1", true});
  ASSERT_TRUE(quarantined.ok()) << quarantined.status().ToString();
  EXPECT_TRUE(quarantined->quarantined);
  auto unknown = api.Quarantine({"nobody", true});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  auto not_admin = Api(kWorkerToken).Quarantine({"w1", false});
  ASSERT_FALSE(not_admin.ok());
  EXPECT_EQ(not_admin.status().code(), Code::kPermissionDenied);
}

TEST_F(ApiServerTest, BootstrapExchangeHandsOutTheMeshTokenOnce) {
  ControlPlaneApi open(server_->url());
  auto wrong = open.BootstrapExchange({"not-the-bootstrap-token"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated);
  auto exchanged = open.BootstrapExchange({kBootstrapToken});
  ASSERT_TRUE(exchanged.ok()) << exchanged.status().ToString();
  EXPECT_EQ(exchanged->mesh_token, kMeshToken);
  auto again = open.BootstrapExchange({kBootstrapToken});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kGone);
}

TEST_F(ApiServerTest, HealthVersionAndEventsAreTyped) {
  ControlPlaneApi api = Api();
  auto health = ControlPlaneApi(server_->url()).Health();
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->status, "ok");
  EXPECT_EQ(health->version, "test");
  auto version = api.Version();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(version->version, "test");
  EXPECT_EQ(version->api, "v1");

  ASSERT_TRUE(api.Join(Node("w1")).ok());
  auto events = api.Events(0, 1000);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  auto joined = std::find_if(events->events.begin(), events->events.end(),
                             [](const mesh::Event& e) { return e.kind == "node.joined"; });
  ASSERT_NE(joined, events->events.end());
  EXPECT_EQ(joined->subject, "w1");
  EXPECT_THAT(joined->data_json, HasSubstr(R"("gpus":1)"));
  EXPECT_EQ(events->next_after, events->events.back().id);
  EXPECT_TRUE(api.Events(events->next_after, 1000)->events.empty());
}

TEST(ControlPlaneApiReplies, AReplyTheClientCannotReadNamesTheRequestAndTheField) {
  CannedServer server({
      {"/v1/populi/tasks/{id}",
       CannedServer::Answer(R"({"id":"t-1","spec":{"command":"x","resources":{"gpus":"two"}}})")},
      {"/v1/populi/nodes", CannedServer::Answer("<html>a proxy page</html>")},
      {"/v1/populi/tasks/{id}/explain",
       CannedServer::Answer(R"({"task_id":"t-1","state":"hibernating"})")},
      {"/health", CannedServer::Answer(R"({"status":"ok","version":"9","uptime_ms":1})")},
  });
  ControlPlaneApi api(server.url());
  auto task = api.GetTask("t-1");
  ASSERT_FALSE(task.ok());
  EXPECT_EQ(task.status().code(), Code::kInternal);
  EXPECT_THAT(task.status().message(), HasSubstr("GET /v1/populi/tasks/t-1"));
  EXPECT_THAT(task.status().message(), HasSubstr("spec.resources.gpus: expected an integer"));
  EXPECT_THAT(task.status().hint(), HasSubstr("same version"));

  auto nodes = api.Nodes();
  ASSERT_FALSE(nodes.ok());
  EXPECT_EQ(nodes.status().code(), Code::kInternal);
  EXPECT_THAT(nodes.status().message(), HasSubstr("not valid JSON"));

  auto explained = api.Explain("t-1");
  ASSERT_FALSE(explained.ok());
  EXPECT_THAT(explained.status().message(), HasSubstr("state: unknown task state 'hibernating'"));

  auto health = api.Health();  // fields it does not know are ignored
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->version, "9");
}

}  // namespace
}  // namespace populi::client::testing
