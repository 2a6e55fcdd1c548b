#include "mesh/json.h"
#include "mesh/inference_json.h"
#include "mesh/parse_json.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

namespace populi::mesh {
namespace {

namespace json = boost::json;

using testing::Parse;

NodeRecord FullNode() {
  NodeRecord n;
  n.id = "node-1";
  n.version = "0.3.0";
  n.scope_id = "home";
  n.labels = {{"pool", "gpu"}, {"region", "attic"}};
  n.visibility = Visibility::kHybrid;
  n.trust_tier = TrustTier::kProbation;
  n.ed25519_pub_key_b64 = "a2V5";
  n.host = "box-a";
  n.cpu = {"EPYC", 16, 32, 2, 1ULL << 36, 1ULL << 35};
  GpuDevice g;
  g.uuid = "GPU-1";
  g.name = "H100";
  g.vendor = "nvidia";
  g.pci_bus_id = "0000:01:00.0";
  g.memory_total_bytes = 80ULL << 30;
  g.memory_used_bytes = 1;
  g.memory_free_bytes = (80ULL << 30) - 1;
  g.utilization_pct = 7;
  g.temperature_c = 41;
  g.driver_version = "550.1";
  g.cuda_driver_version = "12.4";
  g.mig_enabled = true;
  g.source = "nvml";
  g.confirmed_by = {"nvml", "linux_drm"};
  g.memory_allocatable_bytes = 70ULL << 30;
  n.gpus = {g, g};
  n.gpus[1].uuid = "GPU-2";
  n.gpus[1].utilization_pct.reset();
  n.probe_failures = {{"vulkan", "library_missing", "no libvulkan", "install mesa"}};
  n.gpu_inventory_source = "probed";
  n.gpu_truth_layer = "layer_a_verified";
  n.state = NodeState::kSuspect;
  n.joined_ms = 10;
  n.last_seen_ms = 20;
  n.maintenance = true;
  n.maintenance_until_ms = 30;
  n.quarantined = true;
  n.running_tasks = {"t-1", "t-2"};
  n.donation.enabled = false;
  n.donation.accepted_kinds = {"exec", "inference"};
  n.donation.min_priority = 64;
  n.schema_version = 1;
  return n;
}

void ExpectSameNode(const NodeRecord& a, const NodeRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.scope_id, b.scope_id);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.visibility, b.visibility);
  EXPECT_EQ(a.trust_tier, b.trust_tier);
  EXPECT_EQ(a.ed25519_pub_key_b64, b.ed25519_pub_key_b64);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.cpu.model, b.cpu.model);
  EXPECT_EQ(a.cpu.cores, b.cpu.cores);
  EXPECT_EQ(a.cpu.threads, b.cpu.threads);
  EXPECT_EQ(a.cpu.numa_nodes, b.cpu.numa_nodes);
  EXPECT_EQ(a.cpu.memory_total_bytes, b.cpu.memory_total_bytes);
  EXPECT_EQ(a.cpu.memory_available_bytes, b.cpu.memory_available_bytes);
  ASSERT_EQ(a.gpus.size(), b.gpus.size());
  for (size_t i = 0; i < a.gpus.size(); ++i) {
    const GpuDevice& x = a.gpus[i];
    const GpuDevice& y = b.gpus[i];
    EXPECT_EQ(x.uuid, y.uuid);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.vendor, y.vendor);
    EXPECT_EQ(x.pci_bus_id, y.pci_bus_id);
    EXPECT_EQ(x.memory_total_bytes, y.memory_total_bytes);
    EXPECT_EQ(x.memory_used_bytes, y.memory_used_bytes);
    EXPECT_EQ(x.memory_free_bytes, y.memory_free_bytes);
    EXPECT_EQ(x.utilization_pct, y.utilization_pct);
    EXPECT_EQ(x.temperature_c, y.temperature_c);
    EXPECT_EQ(x.driver_version, y.driver_version);
    EXPECT_EQ(x.cuda_driver_version, y.cuda_driver_version);
    EXPECT_EQ(x.mig_enabled, y.mig_enabled);
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.confirmed_by, y.confirmed_by);
    EXPECT_EQ(x.memory_allocatable_bytes, y.memory_allocatable_bytes);
  }
  ASSERT_EQ(a.probe_failures.size(), b.probe_failures.size());
  for (size_t i = 0; i < a.probe_failures.size(); ++i) {
    EXPECT_EQ(a.probe_failures[i].probe, b.probe_failures[i].probe);
    EXPECT_EQ(a.probe_failures[i].kind, b.probe_failures[i].kind);
    EXPECT_EQ(a.probe_failures[i].message, b.probe_failures[i].message);
    EXPECT_EQ(a.probe_failures[i].hint, b.probe_failures[i].hint);
  }
  EXPECT_EQ(a.gpu_inventory_source, b.gpu_inventory_source);
  EXPECT_EQ(a.gpu_truth_layer, b.gpu_truth_layer);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.joined_ms, b.joined_ms);
  EXPECT_EQ(a.last_seen_ms, b.last_seen_ms);
  EXPECT_EQ(a.maintenance, b.maintenance);
  EXPECT_EQ(a.maintenance_until_ms, b.maintenance_until_ms);
  EXPECT_EQ(a.quarantined, b.quarantined);
  EXPECT_EQ(a.running_tasks, b.running_tasks);
  EXPECT_EQ(a.donation.enabled, b.donation.enabled);
  EXPECT_EQ(a.donation.accepted_kinds, b.donation.accepted_kinds);
  EXPECT_EQ(a.donation.min_priority, b.donation.min_priority);
  EXPECT_EQ(a.schema_version, b.schema_version);
}

TEST(MeshJson, NodeRecordRoundTripsEveryField) {
  NodeRecord n = FullNode();
  std::string text = Serialize(ToJson(n));
  auto back = NodeRecordFromJson(Parse(text));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameNode(n, *back);
  EXPECT_EQ(Serialize(ToJson(*back)), text);
}

TEST(MeshJson, NodeRecordOmitsAbsentOptionalsAndDefaultsThem) {
  NodeRecord n;
  n.id = "n";
  json::object o = ToJson(n);
  EXPECT_FALSE(o.contains("labels"));
  EXPECT_FALSE(o.contains("gpus"));
  EXPECT_FALSE(o.contains("scope_id"));
  EXPECT_FALSE(o.contains("joined_ms"));
  auto back = NodeRecordFromJson(Parse(R"({"id":"n"})"));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->visibility, Visibility::kPrivate);
  EXPECT_EQ(back->trust_tier, TrustTier::kTrusted);
  EXPECT_TRUE(back->gpus.empty());
}

TEST(MeshJson, UnknownFieldsAreIgnored) {
  auto n = NodeRecordFromJson(Parse(R"({"id":"n","future_field":{"x":[1,2]},"cpu":{"y":1}})"));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->id, "n");
}

TEST(MeshJson, ErrorsNameTheFieldPath) {
  auto n = NodeRecordFromJson(Parse(R"({"id":"n","gpus":[{},{"memory_total_bytes":-1}]})"));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kInvalidArgument);
  EXPECT_NE(n.status().message().find("gpus[1].memory_total_bytes"), std::string::npos)
      << n.status().message();

  auto m = NodeRecordFromJson(Parse(R"({"id":"n","cpu":{"cores":"many"}})"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("cpu.cores"), std::string::npos);

  auto missing = NodeRecordFromJson(Parse(R"({"version":"1"})"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("id: required"), std::string::npos);
  EXPECT_FALSE(missing.status().hint().empty());
}

TEST(MeshJson, UnknownEnumValuesAreRejected) {
  auto n = NodeRecordFromJson(Parse(R"({"id":"n","visibility":"everyone"})"));
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("visibility"), std::string::npos);
  auto m = NewMessageFromJson(
      Parse(R"({"sender":"a","receiver":"b","message_type":"task_submit","privacy_class":"x"})"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("privacy_class"), std::string::npos);
}

TEST(MeshJson, NumbersOutOfRangeOrFractionalAreRejected) {
  const char* bad[] = {
      R"({"sender":"a","receiver":"b","message_type":"t","priority":256})",
      R"({"sender":"a","receiver":"b","message_type":"t","priority":-1})",
      R"({"sender":"a","receiver":"b","message_type":"t","priority":1.5})",
      R"({"sender":"a","receiver":"b","message_type":"t","priority":1e400})",
      R"({"sender":"a","receiver":"b","message_type":"t","priority":"high"})",
  };
  for (const char* text : bad) {
    auto v = ParseJson(text);
    if (!v.ok()) continue;  // 1e400 may be refused by the parser itself: also fine
    auto m = NewMessageFromJson(*v);
    EXPECT_FALSE(m.ok()) << text;
  }
  auto huge = InboxRequestFromJson(Parse(R"({"receiver":"r","wait_ms":99999999999999999999})"));
  EXPECT_FALSE(huge.ok());
}

TEST(MeshJson, A2AMessageRoundTripsEveryField) {
  A2AMessage m;
  m.sender = "s";
  m.receiver = "r";
  m.message_type = "task_submit";
  m.payload = R"({"x":"\u00e9"})";
  m.idempotency_key = "k1";
  m.privacy_class = PrivacyClass::kTrustedOnly;
  m.priority = 255;
  m.task_kind = "embed";
  m.model_id = "m";
  m.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  m.payload_blake3_hex = std::string(64, 'a');
  m.signature_b64 = "sig";
  m.jwe_payload = "jwe";
  m.id = 42;
  m.created_ms = 5;
  m.state = MessageState::kClaimed;
  m.claimer_node_id = "c";
  m.claim_expires_ms = 6;
  m.delivery_count = 3;
  m.acked_ms = 7;
  auto back = A2AMessageFromJson(Parse(Serialize(ToJson(m))));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->sender, m.sender);
  EXPECT_EQ(back->receiver, m.receiver);
  EXPECT_EQ(back->message_type, m.message_type);
  EXPECT_EQ(back->payload, m.payload);
  EXPECT_EQ(back->idempotency_key, m.idempotency_key);
  EXPECT_EQ(back->privacy_class, m.privacy_class);
  EXPECT_EQ(back->priority, m.priority);
  EXPECT_EQ(back->task_kind, m.task_kind);
  EXPECT_EQ(back->model_id, m.model_id);
  EXPECT_EQ(back->traceparent, m.traceparent);
  EXPECT_EQ(back->payload_blake3_hex, m.payload_blake3_hex);
  EXPECT_EQ(back->signature_b64, m.signature_b64);
  EXPECT_EQ(back->jwe_payload, m.jwe_payload);
  EXPECT_EQ(back->id, m.id);
  EXPECT_EQ(back->created_ms, m.created_ms);
  EXPECT_EQ(back->state, m.state);
  EXPECT_EQ(back->claimer_node_id, m.claimer_node_id);
  EXPECT_EQ(back->claim_expires_ms, m.claim_expires_ms);
  EXPECT_EQ(back->delivery_count, m.delivery_count);
  EXPECT_EQ(back->acked_ms, m.acked_ms);
  EXPECT_EQ(back->schema_version, m.schema_version);
}

TEST(MeshJson, NewMessageDefaultsArePrivateNormalPriority) {
  auto m = NewMessageFromJson(Parse(R"({"sender":"a","receiver":"b","message_type":"t"})"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->privacy_class, PrivacyClass::kPrivate);
  EXPECT_EQ(m->priority, 128);
}

TEST(MeshJson, ExecLeaseAndEventRoundTrip) {
  ExecLease l{
      "0123456789abcdef0123456789abcdef", "task:1", "n1", 9, LeaseState::kRenewed, 1, 2, 3, 4, 1};
  auto lb = ExecLeaseFromJson(Parse(Serialize(ToJson(l))));
  ASSERT_TRUE(lb.ok());
  EXPECT_EQ(lb->lease_id, l.lease_id);
  EXPECT_EQ(lb->scope_key, l.scope_key);
  EXPECT_EQ(lb->holder_node_id, l.holder_node_id);
  EXPECT_EQ(lb->fencing_token, 9);
  EXPECT_EQ(lb->state, LeaseState::kRenewed);
  EXPECT_EQ(lb->granted_ms, 1);
  EXPECT_EQ(lb->renewed_ms, 2);
  EXPECT_EQ(lb->expires_ms, 3);
  EXPECT_EQ(lb->ended_ms, 4);

  Event e{7, 8, "node.down", "n1", R"({"from":"suspect"})"};
  json::object eo = ToJson(e);
  EXPECT_TRUE(eo["data"].is_object());
  auto eb = EventFromJson(eo);
  ASSERT_TRUE(eb.ok());
  EXPECT_EQ(eb->id, 7);
  EXPECT_EQ(eb->ts_ms, 8);
  EXPECT_EQ(eb->kind, "node.down");
  EXPECT_EQ(eb->subject, "n1");
  EXPECT_EQ(eb->data_json, e.data_json);
}

TEST(MeshJson, AnEventConcernsTheNodeItIsAboutOrThatItsDataNames) {
  EXPECT_TRUE(EventConcernsNode(MakeEvent(1, "node.down", "gpu-1"), "gpu-1"));
  EXPECT_FALSE(EventConcernsNode(MakeEvent(1, "node.down", "gpu-1"), "gpu-2"));
  const Event lease = MakeEvent(1, "lease.granted", "lease-7", {{"holder_node_id", "gpu-2"}});
  EXPECT_TRUE(EventConcernsNode(lease, "gpu-2"));
  EXPECT_FALSE(EventConcernsNode(lease, "gpu-1"));
  EXPECT_TRUE(
      EventConcernsNode(MakeEvent(1, "task.placed", "t-1", {{"node_id", "cpu-1"}}), "cpu-1"));
  // A number where a node id belongs, or data that is not an object, names no node.
  EXPECT_FALSE(EventConcernsNode(MakeEvent(1, "task.placed", "t-1", {{"node_id", 5}}), "5"));
  Event broken = MakeEvent(1, "task.placed", "t-1");
  broken.data_json = "[\"cpu-1\"]";
  EXPECT_FALSE(EventConcernsNode(broken, "cpu-1"));
}

TEST(MeshJson, RequestBodiesRoundTrip) {
  InboxRequest in{"r", "c", 9, 16, 500, 3000, {4, 5}};
  auto inb = InboxRequestFromJson(ToJson(in));
  ASSERT_TRUE(inb.ok());
  EXPECT_EQ(inb->receiver, "r");
  EXPECT_EQ(inb->claimer_node_id, "c");
  EXPECT_EQ(inb->before_message_id, 9);
  EXPECT_EQ(inb->max_messages, 16);
  EXPECT_EQ(inb->wait_ms, 500);
  EXPECT_EQ(inb->lease_ms, 3000);
  EXPECT_EQ(inb->ack_message_ids, (std::vector<int64_t>{4, 5}));

  AckRequest batch{"r", 0, {1, 2, 3}, "tok"};
  auto ab = AckRequestFromJson(ToJson(batch));
  ASSERT_TRUE(ab.ok());
  EXPECT_EQ(ab->message_ids, batch.message_ids);
  EXPECT_EQ(ab->claim_token, "tok");
  AckRequest one{"r", 5, {}};
  EXPECT_EQ(AckRequestFromJson(ToJson(one))->message_id, 5);
  EXPECT_FALSE(AckRequestFromJson(Parse(R"({"receiver":"r"})")).ok());
  EXPECT_FALSE(
      AckRequestFromJson(Parse(R"({"receiver":"r","message_id":1,"message_ids":[2]})")).ok());
  EXPECT_FALSE(AckRequestFromJson(Parse(R"({"receiver":"r","message_ids":[1,"x"]})")).ok());

  ClaimRenewRequest cr{"r", 4, "c", "tok", 100};
  auto crb = ClaimRenewRequestFromJson(ToJson(cr));
  ASSERT_TRUE(crb.ok());
  EXPECT_EQ(crb->message_id, 4);
  EXPECT_EQ(crb->claimer_node_id, "c");
  EXPECT_EQ(crb->claim_token, "tok");
  EXPECT_EQ(crb->lease_ms, 100);
  auto untokened =
      ClaimRenewRequestFromJson(Parse(R"({"receiver":"r","message_id":4,"claimer_node_id":"c"})"));
  ASSERT_FALSE(untokened.ok());
  EXPECT_NE(untokened.status().message().find("claim_token"), std::string::npos);

  LeaseRequest lr{"task:1", "", "n1", 5000};
  auto lrb = LeaseRequestFromJson(ToJson(lr), LeaseOp::kGrant);
  ASSERT_TRUE(lrb.ok());
  EXPECT_EQ(lrb->scope_key, "task:1");
  EXPECT_EQ(lrb->ttl_ms, 5000);
  EXPECT_FALSE(LeaseRequestFromJson(ToJson(lr), LeaseOp::kRenew).ok());  // lease_id required

  MaintenanceRequest mr{"n1", true, 0, 60000};
  auto mrb = MaintenanceRequestFromJson(ToJson(mr));
  ASSERT_TRUE(mrb.ok());
  EXPECT_EQ(mrb->for_ms, 60000);
  EXPECT_FALSE(
      MaintenanceRequestFromJson(Parse(R"({"node_id":"n","until_ms":1,"for_ms":2})")).ok());

  EXPECT_FALSE(QuarantineRequestFromJson(ToJson(QuarantineRequest{"n1", false}))->on);
  EXPECT_EQ(BootstrapRequestFromJson(ToJson(BootstrapRequest{"t"}))->bootstrap_token, "t");
  EXPECT_EQ(HeartbeatRequestFromJson(ToJson(HeartbeatRequest{"n", "s"}))->scope_id, "s");
  EXPECT_EQ(LeaveRequestFromJson(ToJson(LeaveRequest{"n"}))->node_id, "n");
}

TEST(MeshJson, HeartbeatCarriesEngineLoadsValidated) {
  HeartbeatRequest hb{"n", "", {{"http://a:8080", 3, -1, 4, 17}, {"http://b:8000", 5, 2, -1, 18}}};
  const json::object o = ToJson(hb);
  EXPECT_FALSE(o.at("engine_load").as_array()[0].as_object().contains("waiting"));  // unknown
  auto back = HeartbeatRequestFromJson(o);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->engine_load, hb.engine_load);
  EXPECT_FALSE(ToJson(HeartbeatRequest{"n", "", {}}).contains("engine_load"));
  // Bad loads name the field: a negative count, a duplicate endpoint, too many engines.
  auto negative = HeartbeatRequestFromJson(
      Parse(R"({"node_id":"n","engine_load":[{"endpoint":"e","busy":-1}]})"));
  EXPECT_EQ(negative.status().code(), Code::kInvalidArgument);
  EXPECT_NE(negative.status().message().find("engine_load[0].busy"), std::string::npos)
      << negative.status().message();
  HeartbeatRequest twice{"n", "", {{"http://a", 1, -1, -1, 0}, {"http://a", 2, -1, -1, 0}}};
  auto dup = HeartbeatRequestFromJson(ToJson(twice));
  EXPECT_NE(dup.status().message().find("engine_load[1].endpoint"), std::string::npos)
      << dup.status().message();
  HeartbeatRequest many{"n", "", {}};
  for (size_t i = 0; i <= kMaxEngineLoads; ++i)
    many.engine_load.push_back({"http://e" + std::to_string(i), 0, -1, -1, 0});
  EXPECT_EQ(HeartbeatRequestFromJson(ToJson(many)).status().code(), Code::kInvalidArgument);
  // The stored row: versioned; a newer version than this binary reads is refused.
  NodeEngineLoad row{kEngineLoadSchemaVersion, "n", hb.engine_load, 100, 200};
  auto stored = NodeEngineLoadFromJson(ToJson(row));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->engines, row.engines);
  EXPECT_EQ(stored->fresh_until_ms, 200);
  json::object newer = ToJson(row);
  newer["schema_version"] = kEngineLoadSchemaVersion + 1;
  EXPECT_NE(NodeEngineLoadFromJson(newer).status().message().find("schema_version"),
            std::string::npos);
  json::object unversioned = ToJson(row);
  unversioned.erase("schema_version");
  EXPECT_FALSE(NodeEngineLoadFromJson(unversioned).ok());
}

TEST(MeshJson, ParserRejectsBadInputCleanly) {
  EXPECT_FALSE(ParseJson("{").ok());
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson(std::string("{\"a\":\"\xff\xfe\"}")).ok());  // invalid UTF-8
  EXPECT_EQ(ParseJson(R"({"ttl_ms":1e999})").status().code(), Code::kInvalidArgument);  // +inf
  EXPECT_TRUE(ParseJson(R"({"x":-1.5e300})").ok());
  auto nested = ParseJson(R"({"a":[1,{"b":-1e999}]})");
  EXPECT_NE(nested.status().message().find("a[1].b:"), std::string::npos)
      << nested.status().message();
  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  auto d = ParseJson(deep);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(NodeRecordFromJson(Parse("[1,2]")).ok());  // not an object
  EXPECT_TRUE(ParseJson(R"({"a":[[[1]]]})").ok());
}

// The request-body cases: every route handler parses its body with ParseJson (DecodeBody).
TEST(MeshJson, ParsesARequestBodyObject) {
  auto parsed = ParseJson(R"({"a":[1,2,{"b":"c"}],"n":null})");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->at("a").as_array().size(), 3u);
  EXPECT_EQ(parsed->at("a").as_array()[2].at("b").as_string(), "c");
  auto spaced = ParseJson(" \n {\"a\":1} \n");
  ASSERT_TRUE(spaced.ok()) << spaced.status().ToString();
  EXPECT_EQ(spaced->at("a").as_int64(), 1);
}

TEST(MeshJson, RejectsEmptyMalformedAndTruncatedBodiesWithAHint) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,2", "nul", "{'a':1}", "[1,]", "{\"a\":1} x",
                          "{} {}", "/* c */ {}"}) {
    auto parsed = ParseJson(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("not valid JSON"), std::string::npos) << bad;
    EXPECT_FALSE(parsed.status().hint().empty()) << bad;
  }
}

TEST(MeshJson, RefusesDeepNestingByDepthNotRecursionAndTheLimitIsExact) {
  std::string deep(10'000, '[');
  deep += std::string(10'000, ']');
  auto parsed = ParseJson(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().hint().find("at most 32 levels"), std::string::npos)
      << parsed.status().hint();
  auto nest = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(ParseJson(nest(32)).ok());
  EXPECT_FALSE(ParseJson(nest(33)).ok());
  EXPECT_TRUE(ParseJson(nest(3), 3).ok());
  EXPECT_FALSE(ParseJson(nest(4), 3).ok());
}

// Found by fuzz_json_body: "6132E589999999" parsed as +infinity, which serializes as text no
// parser reads back. Such numbers are malformed input, refused before any handler sees them.
TEST(MeshJson, RejectsNumbersOutsideTheRangeOfADouble) {
  for (const char* body : {"6132E589999999", R"({"ttl_ms":1e999})", R"([1,[2,-1e400]])"}) {
    auto parsed = ParseJson(body);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << body;
  }
  EXPECT_TRUE(ParseJson(R"({"big":1.7e308,"small":-1e-400})").ok());
}

}  // namespace
}  // namespace populi::mesh
