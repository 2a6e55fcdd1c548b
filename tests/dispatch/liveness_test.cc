// Liveness rules on a hand-driven clock: alive → suspect → down, the anti-cascade hold when most
// nodes fall silent together, and the grace given after the control plane itself was paused.
#include <gtest/gtest.h>

#include "dispatch/liveness.h"

namespace populi::dispatch {
namespace {

using mesh::NodeState;

// Heartbeat 1 s: suspect after 2 s, down after 4 s; "together" = within 2 s.
Liveness Make() {
  return Liveness(2'000, 4'000, 2'000);
}

TEST(Liveness, OneSilentNodeGoesSuspectThenDown) {
  Liveness l = Make();
  for (const char* id : {"a", "b", "c"}) l.Touch(id, 0);
  for (int64_t t = 1'000; t <= 5'000; t += 1'000) {
    l.Touch("b", t);
    l.Touch("c", t);
  }
  Liveness::MassSilence ms;
  auto changes = l.Judge(5'000, &ms);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].node_id, "a");
  EXPECT_EQ(changes[0].to, NodeState::kDown);
  EXPECT_FALSE(ms.started);
}

TEST(Liveness, MostNodesSilentTogetherAreHeldForOneMoreDownWindow) {
  Liveness l = Make();
  for (const char* id : {"a", "b", "c", "d"}) l.Touch(id, 0);
  l.Touch("d", 4'500);
  Liveness::MassSilence ms;
  auto changes = l.Judge(4'500, &ms);
  EXPECT_TRUE(ms.started);
  EXPECT_EQ(ms.silent, 3);
  EXPECT_EQ(ms.tracked, 4);
  EXPECT_EQ(ms.held, 3);
  for (const auto& c : changes) EXPECT_EQ(c.to, NodeState::kSuspect) << c.node_id;
  // They come back inside the hold: never down.
  for (const char* id : {"a", "b", "c", "d"}) l.Touch(id, 6'000);
  EXPECT_TRUE(l.Judge(6'000).empty());
  EXPECT_EQ(l.Get("a")->state, NodeState::kAlive);
}

TEST(Liveness, NodesStillSilentAfterTheHoldGoDown) {
  Liveness l = Make();
  for (const char* id : {"a", "b", "c"}) l.Touch(id, 0);
  Liveness::MassSilence ms;
  l.Judge(4'000, &ms);
  ASSERT_TRUE(ms.started);
  EXPECT_EQ(l.Get("a")->state, NodeState::kSuspect);
  l.Judge(7'000, &ms);  // hold lasts until 8 000
  EXPECT_EQ(l.Get("a")->state, NodeState::kSuspect);
  l.Judge(8'000, &ms);
  EXPECT_FALSE(ms.started);  // one warning per episode
  EXPECT_EQ(l.Get("a")->state, NodeState::kDown);
  EXPECT_EQ(l.Get("c")->state, NodeState::kDown);
}

TEST(Liveness, NodesThatFellSilentAtDifferentTimesAreNotAMassSilence) {
  Liveness l = Make();
  l.Touch("a", 0);
  l.Touch("b", 0);
  l.Touch("c", 0);
  l.Touch("b", 3'000);  // b went quiet 3 s after a: not "together"
  l.Touch("c", 7'500);
  Liveness::MassSilence ms;
  l.Judge(7'500, &ms);
  EXPECT_FALSE(ms.started);
  EXPECT_EQ(l.Get("a")->state, NodeState::kDown);
  EXPECT_EQ(l.Get("b")->state, NodeState::kDown);
}

TEST(Liveness, ForgivingAPauseMovesSilenceClocksButNeverPastNow) {
  Liveness l = Make();
  l.Touch("a", 0);
  l.Touch("b", 9'500);
  EXPECT_EQ(l.ForgiveGap(9'000, 10'000), 2);
  EXPECT_EQ(l.Get("a")->last_seen_ms, 9'000);
  EXPECT_EQ(l.Get("b")->last_seen_ms, 10'000);
  EXPECT_TRUE(l.Judge(10'000).empty());
  EXPECT_EQ(l.ForgiveGap(0, 10'000), 0);
}

// ---- a dropped connection (drop grace 500 ms in these tests) ----

Liveness MakeWithDropGrace() {
  return Liveness(2'000, 4'000, 2'000, 500);
}

TEST(LivenessDrop, ADroppedConnectionIsSuspectAtOnceAndDownAfterTheGrace) {
  Liveness l = MakeWithDropGrace();
  for (const char* id : {"a", "b", "c"}) l.Touch(id, 0);
  ASSERT_TRUE(l.ConnectionDropped("a", 100));
  EXPECT_FALSE(l.ConnectionDropped("a", 150));  // marked once
  EXPECT_EQ(l.NextDeadline(100), 100);          // judge now
  auto first = l.Judge(100);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].to, NodeState::kSuspect);
  EXPECT_TRUE(first[0].connection_dropped);
  EXPECT_EQ(l.NextDeadline(100), 600);  // the grace, well before any silence threshold
  EXPECT_TRUE(l.Judge(599).empty());
  auto second = l.Judge(600);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].node_id, "a");
  EXPECT_EQ(second[0].to, NodeState::kDown);
  EXPECT_TRUE(second[0].connection_dropped);
  EXPECT_EQ(l.Get("b")->state, NodeState::kAlive);
  EXPECT_FALSE(l.ConnectionDropped("a", 700));  // down already
  // Its silence (700 ms) is short of every threshold, yet it stays down until heard from.
  EXPECT_TRUE(l.Judge(700).empty());
  EXPECT_EQ(l.Get("a")->state, NodeState::kDown);
  l.Touch("a", 800);
  EXPECT_EQ(l.Get("a")->state, NodeState::kAlive);
}

TEST(LivenessDrop, AnAgentHeardFromWithinTheGraceNeverGoesDown) {
  Liveness l = MakeWithDropGrace();
  l.Touch("a", 0);
  l.Touch("b", 0);
  ASSERT_TRUE(l.ConnectionDropped("a", 100));
  ASSERT_TRUE(l.ConnectionDropped("b", 100));
  EXPECT_EQ(l.Judge(100).size(), 2u);  // both suspect
  l.ConnectionHeld("a");               // a restarted agent's new poll
  l.Touch("b", 300);                   // a heartbeat
  // Past the grace: neither goes down; a is judged on its silence alone (700 ms: alive).
  auto back = l.Judge(700);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].node_id, "a");
  EXPECT_EQ(back[0].to, NodeState::kAlive);
  EXPECT_EQ(l.Get("b")->state, NodeState::kAlive);
  // Silence still rules afterwards: a was last heard from at 0, b at 300.
  auto silent = l.Judge(2'000);
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].node_id, "a");
  EXPECT_EQ(silent[0].to, NodeState::kSuspect);
  EXPECT_FALSE(silent[0].connection_dropped);
}

TEST(LivenessDrop, ADropNotedAcrossAPauseIsForgiven) {
  Liveness l = MakeWithDropGrace();
  l.Touch("a", 0);
  l.Touch("b", 0);
  ASSERT_TRUE(l.ConnectionDropped("a", 100));
  EXPECT_EQ(l.ForgiveGap(30'000, 30'100), 2);
  EXPECT_TRUE(l.Judge(30'100).empty());
  EXPECT_EQ(l.Get("a")->state, NodeState::kAlive);
}

TEST(LivenessDrop, ManyConnectionsDroppingTogetherAreHeldLikeMassSilence) {
  Liveness l = MakeWithDropGrace();
  for (const char* id : {"a", "b", "c"}) l.Touch(id, 0);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(l.ConnectionDropped(id, 100));
  l.Judge(100);
  Liveness::MassSilence ms;
  auto changes = l.Judge(600, &ms);
  EXPECT_TRUE(ms.started);
  EXPECT_EQ(ms.held, 3);
  EXPECT_TRUE(changes.empty());  // all suspect already, held there
  EXPECT_EQ(l.Get("a")->state, NodeState::kSuspect);
}

TEST(LivenessDrop, NextDeadlineIsEachNodesOwnThreshold) {
  Liveness l = MakeWithDropGrace();
  EXPECT_FALSE(l.NextDeadline(0).has_value());
  l.Touch("a", 0);
  l.Touch("b", 1'500);
  EXPECT_EQ(l.NextDeadline(1'500), 2'000);  // a's suspect threshold
  l.Judge(2'000);
  EXPECT_EQ(l.NextDeadline(2'000), 3'500);  // b's suspect threshold before a's down at 4 000
  EXPECT_FALSE(l.ConnectionDropped("ghost", 2'000));
}

mesh::NodeRecord Stored(const std::string& id, mesh::NodeState state, int64_t last_seen_ms) {
  mesh::NodeRecord n;
  n.id = id;
  n.state = state;
  n.last_seen_ms = last_seen_ms;
  return n;
}

TEST(LivenessReplicas, FoldTakesLaterStoredHeartbeatsAndNodesJoinedOrLeftElsewhere) {
  Liveness l(3'000, 5'000, 0, 2'000);
  l.Touch("a", 0);
  l.Touch("gone", 0);
  (void)l.TakeDirty();  // flushed
  ASSERT_TRUE(l.ConnectionDropped("a", 1'000));
  // Another replica heard from a at 4 s and took a join from b; `gone` left there.
  l.Fold(
      {Stored("a", mesh::NodeState::kAlive, 4'000), Stored("b", mesh::NodeState::kAlive, 3'500)});
  EXPECT_EQ(l.Get("a")->last_seen_ms, 4'000);
  EXPECT_EQ(l.Get("a")->dropped_ms, 0);  // heard from after the drop
  ASSERT_TRUE(l.Get("b").has_value());
  EXPECT_FALSE(l.Get("gone").has_value());
  EXPECT_TRUE(l.Judge(6'000).empty());
  // An older stored time changes nothing; silence past it is still judged.
  l.Fold(
      {Stored("a", mesh::NodeState::kAlive, 1'000), Stored("b", mesh::NodeState::kAlive, 3'500)});
  EXPECT_EQ(l.Get("a")->last_seen_ms, 4'000);
  auto t = l.Judge(6'600);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].node_id, "b");
  EXPECT_EQ(t[0].to, mesh::NodeState::kSuspect);
}

TEST(LivenessReplicas, FoldRevivesANodeAnotherReplicaHeardAsAlive) {
  Liveness l(3'000, 5'000);
  l.Touch("a", 0);
  ASSERT_EQ(l.Judge(5'000).size(), 1u);  // down
  l.Fold({Stored("a", mesh::NodeState::kAlive, 6'000)});
  EXPECT_EQ(l.Get("a")->state, mesh::NodeState::kAlive);
  EXPECT_TRUE(l.Judge(6'500).empty());
}

TEST(LivenessReplicas, AdoptTakesTheStoredStateUnlessHeardFromHereSince) {
  Liveness l(3'000, 5'000);
  l.Touch("a", 0);
  l.Touch("b", 0);
  l.Adopt({Stored("a", mesh::NodeState::kDown, 0), Stored("b", mesh::NodeState::kSuspect, 0)});
  EXPECT_EQ(l.Get("a")->state, mesh::NodeState::kDown);
  EXPECT_EQ(l.Get("b")->state, mesh::NodeState::kSuspect);
  l.Touch("b", 9'000);  // a heartbeat here after the holder's judgement
  l.Adopt({Stored("a", mesh::NodeState::kDown, 0), Stored("b", mesh::NodeState::kDown, 4'000)});
  EXPECT_EQ(l.Get("b")->state, mesh::NodeState::kAlive);
  EXPECT_EQ(l.Get("b")->last_seen_ms, 9'000);
}

}  // namespace
}  // namespace populi::dispatch
