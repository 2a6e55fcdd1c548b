// The model inventory routes on a real store with a hand-set clock: PUT /v1/populi/models/{node}
// applies whole reports, diffs and refreshes with model.added / model.removed events in the same
// transaction, refuses a diff against a generation the store does not hold, and
// GET /v1/populi/models merges every node's inventory, fresh or stale, leaving out nodes that
// left or have been down for two of their poll intervals. Beside them, the engine loads that
// heartbeats carry are kept in the store on change, without events.
#include "fixture.h"
#include "inference/engine_load.h"
#include "mesh/inference_json.h"
#include "mesh/inventory_json.h"
#include "mesh/json.h"
#include "mesh/models_json.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

mesh::ModelEntry RouteModel(const std::string& id) {
  mesh::ModelEntry e;
  e.id = id;
  e.name = "name-" + id;
  e.source = mesh::ModelSource::kGguf;
  e.path = "/models/" + id + ".gguf";
  e.format = "gguf";
  e.quantization = "Q4_K_M";
  e.size_bytes = 4096;
  return e;
}

class ModelRoutesTest : public ApiFixture {
 protected:
  ControlOptions Options() override {
    ControlOptions o = ApiFixture::Options();
    o.heartbeat_ms = 1000;
    o.suspect_after = 3;
    o.down_after = 6;
    return o;
  }

  mesh::InventoryReport Whole(const std::string& node, std::vector<std::string> ids,
                              int64_t poll_ms = 1000) {
    mesh::InventoryReport r;
    r.node_id = node;
    r.poll_ms = poll_ms;
    for (const auto& id : ids) r.entries.push_back(RouteModel(id));
    return r;
  }
  Reply Report(const mesh::InventoryReport& r) {
    return Call(http::Method::kPut, "/v1/populi/models/" + r.node_id,
                mesh::Serialize(mesh::ToJson(r)));
  }
  // The generation a report got (a failure when it was refused).
  int64_t Accepted(const mesh::InventoryReport& r) {
    Reply reply = Report(r);
    EXPECT_EQ(reply.status, 200) << reply.raw.body;
    if (reply.status != 200) return 0;
    auto decoded = mesh::InventoryReportReplyFromJson(reply.body);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    return decoded.ok() ? decoded->generation : 0;
  }
  mesh::InventoryReport Refresh(const std::string& node, int64_t base, int64_t poll_ms = 1000) {
    mesh::InventoryReport r;
    r.node_id = node;
    r.base_generation = base;
    r.refresh = true;
    r.poll_ms = poll_ms;
    return r;
  }
  mesh::MeshModelList List(std::map<std::string, std::string> query = {}) {
    Reply r = Get("/v1/populi/models", std::move(query));
    EXPECT_EQ(r.status, 200) << r.raw.body;
    auto list = mesh::MeshModelListFromJson(r.body);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : mesh::MeshModelList{};
  }
  // "model@node:state" for every holder of every listed model.
  std::vector<std::string> Holders(std::map<std::string, std::string> query = {}) {
    std::vector<std::string> out;
    for (const auto& m : List(std::move(query)).models) {
      for (const auto& h : m.nodes)
        out.push_back(m.model.id + "@" + h.node_id + ":" + std::string(mesh::ToString(h.state)));
    }
    return out;
  }
  // "kind subject node" of the model events so far.
  std::vector<std::string> ModelEvents() {
    std::vector<std::string> out;
    auto events = store_->ListEvents(0, 1000);
    EXPECT_TRUE(events.ok());
    for (const auto& e : *events) {
      if (e.kind.rfind("model.", 0) != 0) continue;
      auto data = mesh::ParseJson(e.data_json);
      out.push_back(e.kind + " " + e.subject + " " + std::string(data->at("node_id").as_string()));
    }
    return out;
  }
  // "id:state id:state" of the registered nodes.
  std::string NodeStatesForTest() {
    std::string out;
    const Reply nodes = Get("/v1/populi/nodes");
    for (const auto& n : nodes.obj().at("nodes").as_array()) {
      out += (out.empty() ? "" : " ") + std::string(n.at("id").as_string()) + ":" +
             std::string(n.at("state").as_string());
    }
    return out;
  }
  void Beat(const std::string& node) {
    ASSERT_EQ(Post("/v1/populi/heartbeat", json::object{{"node_id", node}}).status, 200);
  }
};

TEST_F(ModelRoutesTest, WholeReportThenDiffThenRefreshWithEventsPerChange) {
  ASSERT_EQ(Join("node-1").status, 200);
  const int64_t g1 = Accepted(Whole("node-1", {"a", "b"}));
  EXPECT_GE(g1, clock_.NowMs());
  EXPECT_EQ(ModelEvents(),
            (std::vector<std::string>{"model.added a node-1", "model.added b node-1"}));
  EXPECT_EQ(Holders(), (std::vector<std::string>{"a@node-1:fresh", "b@node-1:fresh"}));

  mesh::InventoryReport diff;
  diff.node_id = "node-1";
  diff.base_generation = g1;
  diff.poll_ms = 1000;
  diff.entries = {RouteModel("c")};
  diff.removed = {"a"};
  clock_.Advance(10);
  Reply reply = Report(diff);
  ASSERT_EQ(reply.status, 200) << reply.raw.body;
  EXPECT_EQ(reply.obj().at("added"), 1);
  EXPECT_EQ(reply.obj().at("removed"), 1);
  const int64_t g2 = reply.obj().at("generation").as_int64();
  EXPECT_GT(g2, g1);
  EXPECT_EQ(ModelEvents(),
            (std::vector<std::string>{"model.added a node-1", "model.added b node-1",
                                      "model.removed a node-1", "model.added c node-1"}));
  EXPECT_EQ(Holders(), (std::vector<std::string>{"b@node-1:fresh", "c@node-1:fresh"}));

  // A refresh keeps the generation and records nothing.
  clock_.Advance(10);
  EXPECT_EQ(Accepted(Refresh("node-1", g2)), g2);
  EXPECT_EQ(ModelEvents().size(), 4u);
  const mesh::MeshModelList list = List();
  ASSERT_EQ(list.nodes.size(), 1u);
  EXPECT_EQ(list.nodes[0].generation, g2);
  EXPECT_EQ(list.nodes[0].refreshed_ms, clock_.NowMs());
  EXPECT_EQ(list.nodes[0].models, 2);
  // The model object carries the entry's fields; the holder its path.
  ASSERT_EQ(list.models.size(), 2u);
  EXPECT_EQ(list.models[0].model.quantization, "Q4_K_M");
  EXPECT_EQ(list.models[0].nodes[0].path, "/models/b.gguf");
}

TEST_F(ModelRoutesTest, ADiffAgainstAnotherGenerationIsRefusedAndAWholeReportResyncs) {
  ASSERT_EQ(Join("node-1").status, 200);
  const int64_t g1 = Accepted(Whole("node-1", {"a", "b"}));
  mesh::InventoryReport diff;
  diff.node_id = "node-1";
  diff.base_generation = g1 - 1;
  diff.poll_ms = 1000;
  diff.removed = {"a"};
  Reply stale_base = Report(diff);
  EXPECT_EQ(stale_base.status, 409) << stale_base.raw.body;
  EXPECT_EQ(ErrorCode(stale_base), "failed_precondition");
  EXPECT_EQ(Report(Refresh("node-1", g1 + 5)).status, 409);

  // The store lost the node's inventory (restored from an older backup, say).
  ASSERT_TRUE(store_
                  ->Write([](store::WriteTxn& t) -> Status {
                    POPULI_RETURN_IF_ERROR(t.DeleteKv("models", "node-1"));
                    return t.DeleteKv("models.refresh", "node-1");
                  })
                  .ok());
  clock_.Advance(1);
  diff.base_generation = g1;
  EXPECT_EQ(Report(diff).status, 409);
  EXPECT_EQ(Report(Refresh("node-1", g1)).status, 409);
  const int64_t g2 = Accepted(Whole("node-1", {"b"}));
  EXPECT_GT(g2, g1);
  EXPECT_EQ(Holders(), (std::vector<std::string>{"b@node-1:fresh"}));
  // Each report is checked before anything is stored.
  Reply mismatch = Call(http::Method::kPut, "/v1/populi/models/node-2",
                        mesh::Serialize(mesh::ToJson(Whole("node-1", {"x"}))));
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(Report(Whole("ghost", {"x"})).status, 404);
  EXPECT_EQ(Report(Whole("node-1", {"x"}, 5)).status, 400);  // poll_ms
  Reply garbage = Call(http::Method::kPut, "/v1/populi/models/node-1", "{\"node_id\":3}");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(Holders(), (std::vector<std::string>{"b@node-1:fresh"}));
}

TEST_F(ModelRoutesTest, ModelsOfASilentNodeGoStaleThenGoneAfterTwoPollIntervals) {
  ASSERT_EQ(Join("node-1").status, 200);
  ASSERT_EQ(Join("node-2").status, 200);
  // node-1 polls every 5 s, node-2 every second.
  Accepted(Whole("node-1", {"shared", "only-1"}, 5000));
  const int64_t g2 = Accepted(Whole("node-2", {"shared"}, 1000));
  auto node2_lives = [&](int64_t ms) {
    for (int64_t t = 0; t < ms; t += 500) {
      clock_.Advance(500);
      Beat("node-2");
      Accepted(Refresh("node-2", g2));
      ASSERT_TRUE(plane_->SweepOnce().ok());
    }
  };
  EXPECT_EQ(Holders(), (std::vector<std::string>{"only-1@node-1:fresh", "shared@node-1:fresh",
                                                 "shared@node-2:fresh"}));
  node2_lives(3000);  // node-1 silent for 3 s: suspect
  EXPECT_EQ(Holders(), (std::vector<std::string>{"only-1@node-1:stale", "shared@node-1:stale",
                                                 "shared@node-2:fresh"}));
  node2_lives(4000);  // 7 s: down, not yet silent for two of its polls
  EXPECT_EQ(NodeStatesForTest(), "node-1:down node-2:alive");
  EXPECT_EQ(Holders(), (std::vector<std::string>{"only-1@node-1:stale", "shared@node-1:stale",
                                                 "shared@node-2:fresh"}));
  node2_lives(3500);  // 10.5 s: gone
  EXPECT_EQ(Holders(), (std::vector<std::string>{"shared@node-2:fresh"}));
  EXPECT_EQ(Holders({{"model", "name-only-1"}}), std::vector<std::string>{});
  // Its heartbeat brings it back (its last report is within three of its polls).
  Beat("node-1");
  EXPECT_EQ(Holders({{"node", "node-1"}}),
            (std::vector<std::string>{"only-1@node-1:fresh", "shared@node-1:fresh"}));
}

TEST_F(ModelRoutesTest, ALiveNodeThatStopsReportingIsStaleAfterThreePolls) {
  ASSERT_EQ(Join("node-1").status, 200);
  Accepted(Whole("node-1", {"a"}, 1000));
  for (int i = 0; i < 6; ++i) {
    clock_.Advance(500);
    Beat("node-1");
  }
  EXPECT_EQ(Holders(), (std::vector<std::string>{"a@node-1:fresh"}));
  clock_.Advance(1);
  EXPECT_EQ(Holders(), (std::vector<std::string>{"a@node-1:stale"}));
}

TEST_F(ModelRoutesTest, ANodeThatLeavesTakesItsInventoryWithIt) {
  ASSERT_EQ(Join("node-1").status, 200);
  ASSERT_EQ(Join("node-2").status, 200);
  Accepted(Whole("node-1", {"a"}));
  Accepted(Whole("node-2", {"a", "b"}));
  EXPECT_EQ(Post("/v1/populi/leave", json::object{{"node_id", "node-1"}}).status, 204);
  EXPECT_EQ(Holders(), (std::vector<std::string>{"a@node-2:fresh", "b@node-2:fresh"}));
  EXPECT_FALSE(store_->GetKv("models", "node-1")->has_value());
  EXPECT_FALSE(store_->GetKv("models.refresh", "node-1")->has_value());
  // A diff from its agent is refused; it rejoins and sends the whole inventory.
  EXPECT_EQ(Report(Refresh("node-1", 1)).status, 404);
  ASSERT_EQ(Join("node-1").status, 200);
  EXPECT_EQ(Report(Refresh("node-1", 1)).status, 409);
  Accepted(Whole("node-1", {"a"}));
  EXPECT_EQ(Holders({{"model", "a"}}),
            (std::vector<std::string>{"a@node-1:fresh", "a@node-2:fresh"}));
}

// Engine truth (docs/inference.md): heartbeats carry the engines' own load; the control plane
// keeps it in the store for every replica, written on change and as a keepalive, with no event
// and no inventory generation; a bad load is a 400 naming the field; leave removes it.
TEST_F(ModelRoutesTest, HeartbeatEngineLoadIsStoredOnChangeWithoutEvents) {
  ASSERT_EQ(Join("node-1").status, 200);
  const int64_t generation = Accepted(Whole("node-1", {"a"}));
  auto events_before = store_->ListEvents(0, 1000);
  ASSERT_TRUE(events_before.ok());
  auto beat = [&](int64_t busy) {
    json::object hb{{"node_id", "node-1"},
                    {"engine_load", json::array{json::object{{"endpoint", "http://e:8080"},
                                                             {"busy", busy},
                                                             {"slots", 4},
                                                             {"observed_ms", clock_.NowMs()}}}}};
    return Post("/v1/populi/heartbeat", hb);
  };
  auto row = [&]() -> std::optional<mesh::NodeEngineLoad> {
    auto text = store_->GetKv("inference.load", "node-1");
    if (!text.ok() || !*text) return std::nullopt;
    auto decoded = mesh::NodeEngineLoadFromJson(*mesh::ParseJson(**text));
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    return decoded.ok() ? std::optional(*decoded) : std::nullopt;
  };
  ASSERT_EQ(beat(2).status, 200);
  auto first = row();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->engines.at(0).busy, 2);
  EXPECT_EQ(first->engines.at(0).slots, 4);
  const int64_t written = first->received_ms;
  EXPECT_EQ(first->fresh_until_ms, written + inference::kEngineLoadFreshBeats * 1000);
  // The same counts a heartbeat later: not rewritten; changed: rewritten at once.
  clock_.Advance(1000);
  ASSERT_EQ(beat(2).status, 200);
  EXPECT_EQ(row()->received_ms, written);
  ASSERT_EQ(beat(3).status, 200);
  EXPECT_EQ(row()->engines.at(0).busy, 3);
  EXPECT_EQ(row()->received_ms, written + 1000);
  // Unchanged for the keepalive interval: rewritten, fresh again.
  clock_.Advance(inference::kEngineLoadKeepaliveBeats * 1000);
  ASSERT_EQ(beat(3).status, 200);
  EXPECT_EQ(row()->received_ms, written + 1000 + inference::kEngineLoadKeepaliveBeats * 1000);
  // No events and the inventory's generation untouched.
  auto events_after = store_->ListEvents(0, 1000);
  ASSERT_TRUE(events_after.ok());
  EXPECT_EQ(events_after->size(), events_before->size());
  EXPECT_EQ(Accepted(Refresh("node-1", generation)), generation);
  // A bad load: 400 with the field named; the stored row stays.
  Reply bad = Post(
      "/v1/populi/heartbeat",
      json::object{{"node_id", "node-1"},
                   {"engine_load", json::array{json::object{{"endpoint", "e"}, {"busy", -1}}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.obj().at("error").at("code"), "invalid_argument");
  EXPECT_NE(std::string(bad.obj().at("error").at("message").as_string()).find("busy"),
            std::string::npos);
  EXPECT_TRUE(row().has_value());
  // A heartbeat without loads after some removes the row; so does leave.
  Beat("node-1");
  EXPECT_FALSE(row().has_value());
  ASSERT_EQ(beat(1).status, 200);
  EXPECT_TRUE(row().has_value());
  EXPECT_EQ(Post("/v1/populi/leave", json::object{{"node_id", "node-1"}}).status, 204);
  EXPECT_FALSE(row().has_value());
}

TEST_F(ModelRoutesTest, FiltersTakeAModelIdOrNameAndANode) {
  ASSERT_EQ(Join("node-1").status, 200);
  ASSERT_EQ(Join("node-2").status, 200);
  Accepted(Whole("node-1", {"a", "b"}));
  Accepted(Whole("node-2", {"b"}));
  EXPECT_EQ(Holders({{"model", "b"}}),
            (std::vector<std::string>{"b@node-1:fresh", "b@node-2:fresh"}));
  EXPECT_EQ(Holders({{"model", "name-a"}}), (std::vector<std::string>{"a@node-1:fresh"}));
  EXPECT_EQ(Holders({{"model", "b"}, {"node", "node-2"}}),
            (std::vector<std::string>{"b@node-2:fresh"}));
  EXPECT_EQ(Holders({{"node", "node-3"}}), std::vector<std::string>{});
  EXPECT_EQ(Get("/v1/populi/models", {{"node", "bad node"}}).status, 400);
  EXPECT_EQ(Get("/v1/populi/models", {{"model", std::string(300, 'm')}}).status, 400);
}

}  // namespace
}  // namespace populi::control::testing
