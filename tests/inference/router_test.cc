// inference/router.h: block hashes, tiers, the load cap, prefix affinity and in-flight counts.
#include "inference/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace populi::inference {
namespace {

std::string Text(char c, size_t blocks) {
  return std::string(blocks * kBlockBytes, c);
}

TEST(BlockHashes, ChainedSoEqualHashMeansEqualPrefix) {
  const std::string a = Text('a', 3) + Text('b', 2);
  const std::string b = Text('a', 3) + Text('c', 2);
  auto ha = BlockHashes(a);
  auto hb = BlockHashes(b);
  ASSERT_EQ(ha.size(), 5u);
  ASSERT_EQ(hb.size(), 5u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(ha[i], hb[i]) << i;
  EXPECT_NE(ha[3], hb[3]);
  // The same block after another prefix hashes differently (the chain).
  auto shifted = BlockHashes(Text('b', 1) + Text('a', 1));
  EXPECT_NE(shifted[1], ha[0]);
  // A partial trailing block is not hashed; empty text has no blocks.
  EXPECT_EQ(BlockHashes(Text('a', 2) + "xyz").size(), 2u);
  EXPECT_TRUE(BlockHashes("").empty());
}

TEST(Router, LoadedTierFirstThenDisk) {
  Router r;
  std::vector<Candidate> c{{"disk", false}, {"warm", true}};
  EXPECT_EQ(r.Pick(c, {}).node_id, "warm");
  EXPECT_TRUE(r.Pick(c, {}).loaded);
  // With the loaded node excluded (it failed), the disk tier serves.
  EXPECT_EQ(r.Pick(c, {}, {"warm"}).node_id, "disk");
  EXPECT_TRUE(r.Pick(c, {}, {"warm", "disk"}).node_id.empty());
  EXPECT_TRUE(r.Pick({}, {}).node_id.empty());
}

TEST(Router, PrefersTheNodeThatServedTheLongestPrefix) {
  Router r;
  std::vector<Candidate> c{{"a", true}, {"b", true}, {"c", true}};
  const auto sys = BlockHashes(Text('s', 2) + Text('x', 4));
  r.Begin("b");
  r.Served("b", BlockHashes(Text('s', 2)));  // only the shared system prompt
  r.End("b");
  r.Begin("c");
  r.Served("c", sys);  // the whole conversation so far
  r.End("c");
  Decision d = r.Pick(c, BlockHashes(Text('s', 2) + Text('x', 4) + Text('y', 1)));
  EXPECT_EQ(d.node_id, "c");
  EXPECT_EQ(d.matched_blocks, 6);
  // A new conversation with the same system prompt matches b and c for 2 blocks of 5: not more
  // than half, so load decides — a has served nothing yet.
  Decision fresh = r.Pick(c, BlockHashes(Text('s', 2) + Text('z', 3)));
  EXPECT_EQ(fresh.node_id, "a");
  EXPECT_EQ(fresh.matched_blocks, 0);
  // Once more than half of it matches somewhere, affinity decides.
  Decision follows = r.Pick(c, BlockHashes(Text('s', 2) + Text('x', 2)));
  EXPECT_EQ(follows.node_id, "c");
  EXPECT_EQ(follows.matched_blocks, 4);
}

TEST(Router, NeverPilesOntoALoadedNode) {
  Router r;
  std::vector<Candidate> c{{"a", true}, {"b", true}};
  const auto conv = BlockHashes(Text('q', 8));
  // The same conversation again and again while nothing ends: affinity keeps it on a until a
  // is more than the cap (least + kCapSlack = 2) above b.
  for (int i = 0; i < 3; ++i) {
    Decision d = r.Pick(c, conv);
    EXPECT_EQ(d.node_id, "a") << i;
    r.Begin(d.node_id);
    r.Served(d.node_id, conv);
  }
  Decision spill = r.Pick(c, conv);
  EXPECT_EQ(spill.node_id, "b");
  EXPECT_EQ(spill.matched_blocks, 0);
  EXPECT_EQ(spill.load_cap, 2);
  EXPECT_EQ(spill.eligible, 1);
  int64_t a = 0;
  int64_t b = 0;
  for (int i = 0; i < 60; ++i) {
    Decision d = r.Pick(c, conv);
    EXPECT_LE(d.in_flight, d.load_cap);
    r.Begin(d.node_id);
    r.Served(d.node_id, conv);
    (d.node_id == "a" ? a : b)++;
  }
  // Both ended up loaded within the cap of each other.
  const int64_t fa = r.InFlight("a");
  const int64_t fb = r.InFlight("b");
  EXPECT_LE(std::max(fa, fb), std::max(std::min(fa, fb) + kCapSlack,
                                       static_cast<int64_t>(std::min(fa, fb) * kCapFactor)) +
                                  1);
  EXPECT_GT(b, 0);
}

TEST(Router, InFlightCountsMoveOnlyThroughBeginAndEnd) {
  Router r;
  r.Begin("a");
  r.Begin("a");
  r.Begin("b");
  EXPECT_EQ(r.InFlight("a"), 2);
  EXPECT_EQ(r.TotalInFlight(), 3);
  r.End("a");
  r.End("a");
  r.End("a");  // never below zero
  r.End("zzz");
  EXPECT_EQ(r.InFlight("a"), 0);
  EXPECT_EQ(r.TotalInFlight(), 1);
}

}  // namespace
}  // namespace populi::inference
