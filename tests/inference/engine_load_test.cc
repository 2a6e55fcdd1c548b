// Engine truth (docs/inference.md, "Engine truth"): the router counts an engine's own report of
// its load when it is more than the front door's own in-flight count; a report is used only
// while fresh; `explain` shows it; the control plane writes reports only on change or keepalive.
#include "inference/engine_load.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "inference/front_door.h"
#include "inference/router.h"
#include "inference/targets.h"

namespace populi::inference {
namespace {

mesh::EngineLoad Load(const std::string& endpoint, int64_t busy, int64_t waiting = -1,
                      int64_t slots = -1) {
  return {endpoint, busy, waiting, slots, 1};
}

Candidate WithEngine(const std::string& node, mesh::EngineLoad load) {
  return {node, true, std::move(load)};
}

TEST(EngineLoadRouting, EngineLoadBeatsTheOwnCount) {
  Router r;
  // Neither node has a request from this front door; a's engine runs 5 of somebody else's
  // (another replica's, a direct client's) and queues 1.
  std::vector<Candidate> c{WithEngine("a", Load("http://a", 5, 1)), {"b", true, std::nullopt}};
  Decision d = r.Pick(c, {});
  EXPECT_EQ(d.node_id, "b");
  EXPECT_EQ(d.load, 0);
  EXPECT_EQ(d.load_cap, 2);  // max(0 + 2, 0 × 1.5)
  EXPECT_EQ(d.eligible, 1);  // a's load 6 is over the cap
  // Own requests count when the engine reports fewer (its report predates them): b has 3 of
  // ours, its engine says 1, a's engine says 2 → a (load 2) wins over b (load 3).
  for (int i = 0; i < 3; ++i) r.Begin("b");
  std::vector<Candidate> c2{WithEngine("a", Load("http://a", 2)),
                            WithEngine("b", Load("http://b", 1))};
  d = r.Pick(c2, {});
  EXPECT_EQ(d.node_id, "a");
  EXPECT_EQ(d.in_flight, 0);
  EXPECT_EQ(d.load, 2);
  ASSERT_TRUE(d.engine.has_value());
  EXPECT_EQ(d.engine->busy, 2);
}

TEST(EngineLoadRouting, CapUsesEngineLoadAgainstAffinity) {
  Router r;
  const auto conversation = BlockHashes(std::string(8 * kBlockBytes, 'c'));
  r.Begin("a");
  r.Served("a", conversation);
  r.End("a");
  std::vector<Candidate> quiet{{"a", true, std::nullopt}, {"b", true, std::nullopt}};
  EXPECT_EQ(r.Pick(quiet, conversation).node_id, "a");  // affinity
  // a's engine reports 3 busy: over the cap of max(0 + 2, 0) → b, though a holds the prefix.
  std::vector<Candidate> busy{WithEngine("a", Load("http://a", 3)), {"b", true, std::nullopt}};
  Decision d = r.Pick(busy, conversation);
  EXPECT_EQ(d.node_id, "b");
  EXPECT_EQ(d.matched_blocks, 0);
}

TEST(EngineLoadRouting, FullEngineNeverWinsByAffinityOverOneWithRoom) {
  Router r;
  const auto conversation = BlockHashes(std::string(8 * kBlockBytes, 'c'));
  r.Begin("a");
  r.Served("a", conversation);
  r.End("a");
  // a's engine has 1 slot and it is busy: load 1 is under the cap (2), yet b has room.
  std::vector<Candidate> c{WithEngine("a", Load("http://a", 1, 0, 1)), {"b", true, std::nullopt}};
  Decision d = r.Pick(c, conversation);
  EXPECT_EQ(d.node_id, "b");
  EXPECT_EQ(d.eligible, 2);
  // When every eligible engine is full, affinity decides again.
  std::vector<Candidate> all_full{WithEngine("a", Load("http://a", 1, 0, 1)),
                                  WithEngine("b", Load("http://b", 1, 0, 1))};
  EXPECT_EQ(r.Pick(all_full, conversation).node_id, "a");
}

models::NodeInventory EngineNode(const std::string& id, const std::string& endpoint) {
  models::NodeInventory n;
  n.node.id = id;
  n.node.state = mesh::NodeState::kAlive;
  n.node.last_seen_ms = 1'000'000;
  mesh::ModelEntry e;
  e.id = "m@" + endpoint;
  e.name = "m";
  e.source = mesh::ModelSource::kEngine;
  e.endpoint = endpoint;
  e.loaded = true;
  n.stored.inventory.node_id = id;
  n.stored.inventory.entries.push_back(e);
  n.stored.updated_ms = 1'000'000;
  n.refreshed_ms = 1'000'000;
  n.poll_ms = 60'000;
  return n;
}

TEST(EngineLoadTargets, OnlyAFreshReportOfTheTargetsEngineIsCarried) {
  std::vector<models::NodeInventory> nodes{EngineNode("a", "http://a:1"),
                                           EngineNode("b", "http://b:1")};
  mesh::NodeEngineLoad row;
  row.node_id = "a";
  row.engines = {Load("http://other:9", 7), Load("http://a:1", 4, 2, 4)};
  row.received_ms = 1'000'000;
  row.fresh_until_ms = 1'016'000;
  nodes[0].engine_load = row;
  mesh::NodeEngineLoad other_endpoint = row;
  other_endpoint.node_id = "b";
  other_endpoint.engines = {Load("http://b:2", 9)};  // not the engine that serves m
  nodes[1].engine_load = other_endpoint;
  ModelIndex index(nodes);
  auto fresh = index.TargetsFor("m", 1'015'999);
  ASSERT_EQ(fresh.size(), 2u);
  ASSERT_TRUE(fresh[0].candidate.engine.has_value());
  EXPECT_EQ(fresh[0].candidate.engine->busy, 4);
  EXPECT_EQ(fresh[0].candidate.engine->Load(), 6);
  EXPECT_TRUE(fresh[0].candidate.engine->Full());
  EXPECT_FALSE(fresh[1].candidate.engine.has_value());
  // Stale: ignored, the router falls back to its own count.
  auto stale = index.TargetsFor("m", 1'016'000);
  ASSERT_EQ(stale.size(), 2u);
  EXPECT_FALSE(stale[0].candidate.engine.has_value());
}

TEST(EngineLoadExplain, TheDecisionShowsTheEngineReport) {
  Router router;
  FrontDoor door(router, [](std::string_view) {});
  RequestSpec s;
  s.request_id = "r1";
  s.model = "m";
  s.body = R"({"model":"m"})";
  s.deadline_ms = 100'000;
  s.targets.push_back({WithEngine("a", Load("http://a", 3, 1, 4)), "http://a"});
  ASSERT_TRUE(door.Begin(s, 1'000).ok());
  auto e = door.Explain("r1");
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->attempts.size(), 1u);
  EXPECT_EQ(e->attempts[0].in_flight, 0);
  EXPECT_EQ(e->attempts[0].load, 4);
  ASSERT_TRUE(e->attempts[0].engine.has_value());
  EXPECT_EQ(e->attempts[0].engine->slots, 4);
  door.End("r1", 1'000);
}

TEST(EngineLoadWrites, WritesOnChangeAndKeepaliveAndDeletesWhenGone) {
  using Action = EngineLoadWrites::Action;
  EngineLoadWrites w(2'000);
  const std::vector<mesh::EngineLoad> two{Load("http://a", 2)};
  EXPECT_EQ(w.Next("n", {}, 0), Action::kNone);  // nothing reported, nothing written
  EXPECT_EQ(w.Next("n", two, 0), Action::kWrite);
  // The same counts observed later: no write until the keepalive is due.
  std::vector<mesh::EngineLoad> later = two;
  later[0].observed_ms = 5'000;
  EXPECT_EQ(w.Next("n", later, 2'000), Action::kNone);
  EXPECT_EQ(w.Next("n", later, kEngineLoadKeepaliveBeats * 2'000 - 1), Action::kNone);
  EXPECT_EQ(w.Next("n", later, kEngineLoadKeepaliveBeats * 2'000), Action::kWrite);
  // A change is written at once; other nodes are apart.
  EXPECT_EQ(w.Next("n", {Load("http://a", 3)}, 10'001), Action::kWrite);
  EXPECT_EQ(w.Next("m", {Load("http://a", 3)}, 10'001), Action::kWrite);
  // A failed write is written again on the next heartbeat.
  w.Failed("n");
  EXPECT_EQ(w.Next("n", {Load("http://a", 3)}, 10'002), Action::kWrite);
  // The engines stopped reporting: the row goes, once.
  EXPECT_EQ(w.Next("n", {}, 12'000), Action::kDelete);
  EXPECT_EQ(w.Next("n", {}, 14'000), Action::kNone);
  mesh::NodeEngineLoad row = w.Row("n", two, 20'000);
  EXPECT_EQ(row.fresh_until_ms, 20'000 + kEngineLoadFreshBeats * 2'000);
  EXPECT_GT(kEngineLoadFreshBeats, kEngineLoadKeepaliveBeats);  // a keepalive lands in time
}

}  // namespace
}  // namespace populi::inference
