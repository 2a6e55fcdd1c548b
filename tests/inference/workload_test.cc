// Routing under a shared-prefix conversation workload, simulated: 4 nodes, each engine a prefix
// cache (the block hashes it has processed, oldest forgotten first), 32 conversations of 8 turns
// that share one system prompt, sent interleaved with up to 8 requests in flight. A cache hit is
// a follow-up turn served by an engine that still holds the whole conversation so far (the
// previous turn's blocks): the router must score at least twice round-robin's hits, and no node
// may serve more than 1.5× the mean number of requests.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "inference/router.h"

namespace populi::inference {
namespace {

constexpr int kNodes = 4;
constexpr int kConversations = 32;
constexpr int kTurns = 8;
constexpr size_t kInFlight = 8;
constexpr size_t kCacheBlocks = 4'096;  // per engine

class EngineCache {
 public:
  // Blocks of `hashes` already cached (the longest cached prefix), then caches them all.
  int64_t Serve(const std::vector<uint64_t>& hashes) {
    int64_t hit = 0;
    while (hit < static_cast<int64_t>(hashes.size()) && set_.count(hashes[hit]) != 0) ++hit;
    for (uint64_t h : hashes) {
      if (!set_.insert(h).second) continue;
      order_.push_back(h);
      if (order_.size() > kCacheBlocks) {
        set_.erase(order_.front());
        order_.pop_front();
      }
    }
    return hit;
  }

 private:
  std::unordered_set<uint64_t> set_;
  std::deque<uint64_t> order_;
};

struct Request {
  int conversation = 0;
  std::string text;
};

struct Result {
  int64_t hits = 0;  // follow-up turns whose whole history was cached where they ran
  int64_t follow_ups = 0;
  int64_t hit_blocks = 0;
  int64_t total_blocks = 0;
  std::vector<int64_t> served = std::vector<int64_t>(kNodes, 0);
};

// The requests in arrival order: each a conversation's full text up to some turn.
std::vector<Request> Workload() {
  std::mt19937 rng(17);
  const std::string system(3 * kBlockBytes, 's');
  std::vector<std::string> history(kConversations);
  std::vector<int> turn(kConversations, 0);
  std::vector<Request> out;
  std::vector<int> open(kConversations);
  for (int c = 0; c < kConversations; ++c) {
    open[c] = c;
    history[c] = system;
  }
  while (!open.empty()) {
    std::uniform_int_distribution<size_t> pick(0, open.size() - 1);
    const size_t i = pick(rng);
    const int c = open[i];
    // A user message and the answer to it: about 3 blocks per turn, distinct per conversation.
    std::string message = "c" + std::to_string(c) + "t" + std::to_string(turn[c]) + ":";
    message.resize(3 * kBlockBytes + (rng() % kBlockBytes), static_cast<char>('a' + c % 26));
    history[c] += message;
    out.push_back({c, history[c]});
    if (++turn[c] == kTurns) open.erase(open.begin() + static_cast<long>(i));
  }
  return out;
}

template <typename Choose>
Result Simulate(const std::vector<Request>& requests, Choose choose) {
  std::vector<EngineCache> caches(kNodes);
  std::vector<int64_t> previous(kConversations, 0);  // blocks of each conversation's last turn
  Result r;
  for (const auto& req : requests) {
    const auto hashes = BlockHashes(req.text);
    const int node = choose(hashes);
    const int64_t hit = caches[node].Serve(hashes);
    if (previous[req.conversation] > 0) {
      ++r.follow_ups;
      if (hit >= previous[req.conversation]) ++r.hits;
    }
    previous[req.conversation] = static_cast<int64_t>(hashes.size());
    r.hit_blocks += hit;
    r.total_blocks += static_cast<int64_t>(hashes.size());
    ++r.served[node];
  }
  return r;
}

TEST(RoutingWorkload, PrefixAffinityBeatsRoundRobinWithoutOverloadingANode) {
  const auto requests = Workload();
  ASSERT_EQ(requests.size(), static_cast<size_t>(kConversations * kTurns));

  int next = 0;
  Result rr = Simulate(requests, [&](const std::vector<uint64_t>&) { return next++ % kNodes; });

  Router router;
  std::vector<Candidate> candidates;
  for (int n = 0; n < kNodes; ++n) candidates.push_back({"node-" + std::to_string(n), true});
  std::deque<std::string> in_flight;  // the oldest request ends when the window is full
  Result routed = Simulate(requests, [&](const std::vector<uint64_t>& hashes) {
    if (in_flight.size() == kInFlight) {
      router.End(in_flight.front());
      in_flight.pop_front();
    }
    Decision d = router.Pick(candidates, hashes);
    EXPECT_LE(d.in_flight, d.load_cap);
    router.Begin(d.node_id);
    router.Served(d.node_id, hashes);
    in_flight.push_back(d.node_id);
    return d.node_id.back() - '0';
  });
  while (!in_flight.empty()) {
    router.End(in_flight.front());
    in_flight.pop_front();
  }
  EXPECT_EQ(router.TotalInFlight(), 0);

  EXPECT_GE(routed.hits, 2 * rr.hits)
      << "routed " << routed.hits << " vs round-robin " << rr.hits << " of " << rr.follow_ups;
  EXPECT_GT(routed.hit_blocks, rr.hit_blocks);
  const double mean = static_cast<double>(requests.size()) / kNodes;
  for (int n = 0; n < kNodes; ++n) {
    EXPECT_LE(static_cast<double>(routed.served[n]), 1.5 * mean) << "node " << n;
  }
  std::printf(
      "cache hits: routed %lld, round-robin %lld of %lld follow-ups; blocks %lld vs %lld of %lld; "
      "served %lld %lld %lld %lld\n",
      static_cast<long long>(routed.hits), static_cast<long long>(rr.hits),
      static_cast<long long>(rr.follow_ups), static_cast<long long>(routed.hit_blocks),
      static_cast<long long>(rr.hit_blocks), static_cast<long long>(routed.total_blocks),
      static_cast<long long>(routed.served[0]), static_cast<long long>(routed.served[1]),
      static_cast<long long>(routed.served[2]), static_cast<long long>(routed.served[3]));
}

}  // namespace
}  // namespace populi::inference
