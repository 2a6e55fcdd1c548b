// Codecs of the system, node, A2A, lease and bootstrap replies (mesh/replies_json.h): each round
// trips, reads the document the server writes back into the same document, names the field path
// of a wrong type, refuses unknown enum values and ignores unknown fields.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "mesh/json.h"
#include "mesh/replies_json.h"
#include "mesh/replies_test_util.h"

namespace populi::mesh {
namespace {

using testing::ErrorOf;
using testing::ExpectSameDocument;
using ::testing::HasSubstr;
using testing::ThroughWire;

TEST(ErrorReplyJson, RoundTripsAndNeedsTheErrorAndItsCode) {
  ErrorReply e{"not_found", "task t-1 does not exist", "list tasks", "req-9"};
  ErrorReply back = ThroughWire(e, ErrorReplyFromJson);
  EXPECT_EQ(back.code, "not_found");
  EXPECT_EQ(back.message, e.message);
  EXPECT_EQ(back.hint, "list tasks");
  EXPECT_EQ(back.request_id, "req-9");
  ExpectSameDocument(R"({"error":{"code":"conflict","message":"m","hint":"h","request_id":"r"}})",
                     ErrorReplyFromJson);
  EXPECT_THAT(ErrorOf(R"({"error":{"code":"x","hint":5}})", ErrorReplyFromJson),
              HasSubstr("error.hint: expected a string"));
  EXPECT_THAT(ErrorOf(R"({"error":"boom"})", ErrorReplyFromJson),
              HasSubstr("error: expected a JSON object"));
  EXPECT_THAT(ErrorOf(R"({"error":{"message":"m"}})", ErrorReplyFromJson), HasSubstr("error.code"));
  EXPECT_THAT(ErrorOf(R"({"message":"m"})", ErrorReplyFromJson), HasSubstr("error"));
  EXPECT_TRUE(ErrorReplyFromJson(testing::Parse(R"({"error":{"code":"x","retry":1},"x":2})")).ok());
}

TEST(DeliverBatchRequestJson, RoundTripsEveryMessage) {
  DeliverBatchRequest q;
  q.messages.resize(2);
  q.messages[0].sender = q.messages[1].sender = "s";
  q.messages[0].receiver = "r0";
  q.messages[1].receiver = "r1";
  q.messages[0].message_type = q.messages[1].message_type = "ping";
  q.messages[1].priority = 9;
  auto back = DeliverBatchRequestFromJson(testing::Parse(boost::json::serialize(ToJson(q))));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->messages.size(), 2u);
  EXPECT_EQ(back->messages[1].receiver, "r1");
  EXPECT_EQ(back->messages[1].priority, 9);
}

TEST(HealthJson, RoundTripsAndNeedsItsStatus) {
  Health h{"ok", "1.2.3"};
  EXPECT_EQ(ThroughWire(h, HealthFromJson).version, "1.2.3");
  ExpectSameDocument(R"({"status":"ok","version":"0.1.0"})", HealthFromJson);
  EXPECT_THAT(ErrorOf(R"({"version":"1"})", HealthFromJson), HasSubstr("status"));
  EXPECT_THAT(ErrorOf(R"({"status":"ok","version":7})", HealthFromJson), HasSubstr("version:"));
  EXPECT_THAT(ErrorOf("[]", HealthFromJson), HasSubstr("expected a JSON object"));
  auto extra = HealthFromJson(testing::Parse(R"({"status":"ok","uptime_ms":5})"));
  ASSERT_TRUE(extra.ok()) << extra.status().ToString();
}

TEST(VersionInfoJson, RoundTripsWithAnOptionalScope) {
  VersionInfo i{"0.1.0", "3", "v1", "lab"};
  VersionInfo back = ThroughWire(i, VersionInfoFromJson);
  EXPECT_EQ(back.version, "0.1.0");
  EXPECT_EQ(back.wire_version, "3");
  EXPECT_EQ(back.api, "v1");
  EXPECT_EQ(back.scope_id, "lab");
  ExpectSameDocument(R"({"version":"0.1.0","wire_version":"3","api":"v1"})", VersionInfoFromJson);
  EXPECT_THAT(ErrorOf(R"({"version":"1","wire_version":3})", VersionInfoFromJson),
              HasSubstr("wire_version: expected a string"));
  EXPECT_TRUE(VersionInfoFromJson(testing::Parse(R"({"version":"1","future":{}})")).ok());
}

TEST(EventPageJson, RoundTripsAndNamesTheEventThatIsWrong) {
  EventPage p;
  p.events.push_back(MakeEvent(5, "node.joined", "gpu-1", {{"gpus", 2}}));
  p.events.back().id = 9;
  p.next_after = 9;
  EventPage back = ThroughWire(p, EventPageFromJson);
  ASSERT_EQ(back.events.size(), 1u);
  EXPECT_EQ(back.events[0].id, 9);
  EXPECT_EQ(back.events[0].kind, "node.joined");
  EXPECT_EQ(back.events[0].data_json, R"({"gpus":2})");
  EXPECT_EQ(back.next_after, 9);
  ExpectSameDocument(
      R"({"events":[{"id":1,"ts_ms":2,"kind":"node.left","subject":"n","data":{}}],"next_after":1})",
      EventPageFromJson);
  EXPECT_THAT(ErrorOf(R"({"events":[{"kind":"a"},{"kind":"b","ts_ms":"x"}]})", EventPageFromJson),
              HasSubstr("events[1].ts_ms:"));
  EXPECT_THAT(ErrorOf(R"({"next_after":3})", EventPageFromJson), HasSubstr("events"));
  EXPECT_TRUE(EventPageFromJson(testing::Parse(R"({"events":[],"more":true})")).ok());
}

TEST(NodeListJson, RoundTripsAndNamesTheFieldPathInsideANode) {
  NodeList l;
  l.server_time_ms = 1'700'000'000'000;
  NodeRecord n;
  n.id = "gpu-1";
  n.state = NodeState::kSuspect;
  n.gpus.push_back({});
  n.gpus.back().uuid = "GPU-a";
  n.gpus.back().memory_total_bytes = 80;
  l.nodes.push_back(n);
  NodeList back = ThroughWire(l, NodeListFromJson);
  EXPECT_EQ(back.server_time_ms, l.server_time_ms);
  ASSERT_EQ(back.nodes.size(), 1u);
  EXPECT_EQ(back.nodes[0].id, "gpu-1");
  EXPECT_EQ(back.nodes[0].state, NodeState::kSuspect);
  ASSERT_EQ(back.nodes[0].gpus.size(), 1u);
  EXPECT_EQ(back.nodes[0].gpus[0].memory_total_bytes, 80u);
  ExpectSameDocument(R"({"schema_version":1,"server_time_ms":7,"nodes":[]})", NodeListFromJson);

  EXPECT_THAT(ErrorOf(R"({"server_time_ms":1,"nodes":[{"id":"a"},
                          {"id":"b","gpus":[{"memory_total_bytes":"80G"}]}]})",
                      NodeListFromJson),
              HasSubstr("nodes[1].gpus[0].memory_total_bytes: expected a non-negative integer"));
  EXPECT_THAT(
      ErrorOf(R"({"server_time_ms":1,"nodes":[{"id":"a","state":"sleeping"}]})", NodeListFromJson),
      HasSubstr("nodes[0].state:"));
  EXPECT_THAT(ErrorOf(R"({"server_time_ms":1,"nodes":[7]})", NodeListFromJson),
              HasSubstr("nodes[0]: expected a JSON object"));
  EXPECT_THAT(ErrorOf(R"({"nodes":[]})", NodeListFromJson), HasSubstr("server_time_ms"));
  EXPECT_TRUE(
      NodeListFromJson(testing::Parse(R"({"server_time_ms":1,"nodes":[],"cursor":"x"})")).ok());
}

TEST(JoinReplyJson, IsTheRecordPlusTheLivenessSettings) {
  JoinReply j;
  j.node.id = "n-1";
  j.node.visibility = Visibility::kHybrid;
  j.heartbeat_ms = 2'000;
  j.down_after_ms = 10'000;
  JoinReply back = ThroughWire(j, JoinReplyFromJson);
  EXPECT_EQ(back.node.id, "n-1");
  EXPECT_EQ(back.node.visibility, Visibility::kHybrid);
  EXPECT_EQ(back.heartbeat_ms, 2'000);
  EXPECT_EQ(back.down_after_ms, 10'000);
  EXPECT_THAT(ErrorOf(R"({"id":"n","heartbeat_ms":"2s"})", JoinReplyFromJson),
              HasSubstr("heartbeat_ms:"));
  EXPECT_THAT(ErrorOf(R"({"id":"n"})", JoinReplyFromJson), HasSubstr("heartbeat_ms"));
  EXPECT_THAT(ErrorOf(R"({"id":"n","heartbeat_ms":1,"trust_tier":"vip"})", JoinReplyFromJson),
              HasSubstr("trust_tier:"));
  auto old = JoinReplyFromJson(testing::Parse(R"({"id":"n","heartbeat_ms":1,"extra":[]})"));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->down_after_ms, 0) << "a control plane that does not say it leaves it unset";
}

TEST(HeartbeatReplyJson, RoundTripsAndRefusesAnUnknownState) {
  HeartbeatReply h{"n-1", NodeState::kAlive, 123, 1'000};
  HeartbeatReply back = ThroughWire(h, HeartbeatReplyFromJson);
  EXPECT_EQ(back.node_id, "n-1");
  EXPECT_EQ(back.server_time_ms, 123);
  EXPECT_EQ(back.heartbeat_ms, 1'000);
  ExpectSameDocument(R"({"node_id":"n","state":"alive","server_time_ms":5,"heartbeat_ms":2000})",
                     HeartbeatReplyFromJson);
  EXPECT_THAT(ErrorOf(R"({"node_id":"n","state":"zombie"})", HeartbeatReplyFromJson),
              HasSubstr("state: "));
  EXPECT_THAT(ErrorOf(R"({"node_id":"n","heartbeat_ms":1.5})", HeartbeatReplyFromJson),
              HasSubstr("heartbeat_ms:"));
  EXPECT_TRUE(HeartbeatReplyFromJson(testing::Parse(R"({"node_id":"n","new":1})")).ok());
}

TEST(DeliverRepliesJson, RoundTripAndNameTheResultThatIsWrong) {
  DeliverReply d;
  d.message_id = 42;
  d.duplicate = true;
  DeliverReply back = ThroughWire(d, DeliverReplyFromJson);
  EXPECT_EQ(back.message_id, 42);
  EXPECT_TRUE(back.duplicate);
  ExpectSameDocument(R"({"accepted":true,"message_id":3,"duplicate":false})", DeliverReplyFromJson);
  EXPECT_THAT(ErrorOf(R"({"accepted":true,"message_id":"3"})", DeliverReplyFromJson),
              HasSubstr("message_id:"));

  DeliverBatchReply b;
  b.results = {{7, false}, {8, true}};
  DeliverBatchReply batch = ThroughWire(b, DeliverBatchReplyFromJson);
  ASSERT_EQ(batch.results.size(), 2u);
  EXPECT_EQ(batch.results[1].message_id, 8);
  EXPECT_TRUE(batch.results[1].duplicate);
  EXPECT_THAT(ErrorOf(R"({"results":[{"message_id":1},{"message_id":2,"duplicate":"no"}]})",
                      DeliverBatchReplyFromJson),
              HasSubstr("results[1].duplicate:"));
  EXPECT_TRUE(
      DeliverBatchReplyFromJson(testing::Parse(R"({"results":[{"message_id":1,"x":0}]})")).ok());
}

TEST(AckAndClaimRenewRepliesJson, RoundTripAndAreStrict) {
  AckReply a{{3, 4}};
  EXPECT_EQ(ThroughWire(a, AckReplyFromJson).acked, (std::vector<int64_t>{3, 4}));
  ExpectSameDocument(R"({"acked":[]})", AckReplyFromJson);
  EXPECT_THAT(ErrorOf(R"({"acked":[1,"2"]})", AckReplyFromJson), HasSubstr("acked[1]:"));
  EXPECT_TRUE(AckReplyFromJson(testing::Parse(R"({"acked":[1],"skipped":[9]})")).ok());

  ClaimRenewReply c{5, 99};
  ClaimRenewReply back = ThroughWire(c, ClaimRenewReplyFromJson);
  EXPECT_EQ(back.message_id, 5);
  EXPECT_EQ(back.claim_expires_ms, 99);
  EXPECT_THAT(ErrorOf(R"({"message_id":5,"claim_expires_ms":true})", ClaimRenewReplyFromJson),
              HasSubstr("claim_expires_ms:"));
  EXPECT_TRUE(ClaimRenewReplyFromJson(testing::Parse(R"({"message_id":5,"x":1})")).ok());
}

TEST(LeaseListJson, RoundTripsAndNamesTheLeaseThatIsWrong) {
  LeaseList l;
  ExecLease lease;
  lease.lease_id = std::string(32, 'a');
  lease.scope_key = "task:t-1";
  lease.holder_node_id = "n-1";
  lease.fencing_token = 4;
  lease.state = LeaseState::kRenewed;
  lease.expires_ms = 77;
  l.leases.push_back(lease);
  LeaseList back = ThroughWire(l, LeaseListFromJson);
  ASSERT_EQ(back.leases.size(), 1u);
  EXPECT_EQ(back.leases[0].fencing_token, 4);
  EXPECT_EQ(back.leases[0].state, LeaseState::kRenewed);
  EXPECT_EQ(back.leases[0].expires_ms, 77);
  ExpectSameDocument(R"({"leases":[]})", LeaseListFromJson);
  const std::string good = R"({"lease_id":"l","scope_key":"s","holder_node_id":"h"})";
  EXPECT_THAT(ErrorOf(R"({"leases":[)" + good +
                          R"(,{"lease_id":"l","scope_key":"s","holder_node_id":"h",
                               "state":"stolen"}]})",
                      LeaseListFromJson),
              HasSubstr("leases[1].state:"));
  EXPECT_THAT(ErrorOf(R"({"leases":{}})", LeaseListFromJson), HasSubstr("leases: expected"));
  EXPECT_TRUE(LeaseListFromJson(testing::Parse(R"({"leases":[)" + good + R"(],"n":1})")).ok());
}

TEST(BootstrapReplyJson, RoundTripsAndNeedsTheToken) {
  BootstrapReply b{"mesh-token", "lab"};
  BootstrapReply back = ThroughWire(b, BootstrapReplyFromJson);
  EXPECT_EQ(back.mesh_token, "mesh-token");
  EXPECT_EQ(back.scope_id, "lab");
  ExpectSameDocument(R"({"mesh_token":"t"})", BootstrapReplyFromJson);
  EXPECT_THAT(ErrorOf(R"({"scope_id":"lab"})", BootstrapReplyFromJson), HasSubstr("mesh_token"));
  EXPECT_THAT(ErrorOf(R"({"mesh_token":["t"]})", BootstrapReplyFromJson),
              HasSubstr("mesh_token: expected a string"));
  EXPECT_TRUE(BootstrapReplyFromJson(testing::Parse(R"({"mesh_token":"t","ttl":1})")).ok());
}

}  // namespace
}  // namespace populi::mesh
