#include "inference/router.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace populi::inference {
namespace {

// FNV-1a over the block, seeded with the previous block's hash (the chain).
uint64_t HashBlock(uint64_t seed, std::string_view block) {
  uint64_t h = seed ^ 0xcbf29ce484222325ULL;
  for (unsigned char c : block) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // A final mix, so chains that differ only late still spread over the set's buckets.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::vector<uint64_t> BlockHashes(std::string_view text, size_t block_bytes) {
  std::vector<uint64_t> out;
  if (block_bytes == 0) return out;
  out.reserve(text.size() / block_bytes);
  uint64_t h = 0;
  for (size_t at = 0; at + block_bytes <= text.size(); at += block_bytes) {
    h = HashBlock(h, text.substr(at, block_bytes));
    out.push_back(h);
  }
  return out;
}

int64_t Router::Matched(const NodeState* n, const std::vector<uint64_t>& hashes) const {
  if (n == nullptr || n->blocks.empty()) return 0;
  // Chained hashes: a match of block i implies blocks 0..i matched, so search from the longest.
  for (size_t i = hashes.size(); i > 0; --i) {
    if (n->blocks.count(hashes[i - 1]) != 0) return static_cast<int64_t>(i);
  }
  return 0;
}

Decision Router::Pick(const std::vector<Candidate>& candidates, const std::vector<uint64_t>& hashes,
                      const std::set<std::string>& excluded) const {
  std::lock_guard lock(mu_);
  struct Seen {
    const Candidate* c;
    const NodeState* n;
    int64_t in_flight;
    int64_t load;  // max(in flight here, the engine's own busy + waiting)
  };
  std::vector<Seen> tier;
  for (int pass = 0; pass < 2 && tier.empty(); ++pass) {
    const bool want_loaded = pass == 0;
    for (const auto& c : candidates) {
      if (c.loaded != want_loaded || excluded.count(c.node_id) != 0) continue;
      auto it = nodes_.find(c.node_id);
      const NodeState* n = it == nodes_.end() ? nullptr : &it->second;
      const int64_t own = n == nullptr ? 0 : n->in_flight;
      tier.push_back({&c, n, own, std::max(own, c.engine ? c.engine->Load() : 0)});
    }
  }
  Decision d;
  if (tier.empty()) return d;
  int64_t least = std::numeric_limits<int64_t>::max();
  for (const auto& s : tier) least = std::min(least, s.load);
  const int64_t cap = std::max<int64_t>(
      least + kCapSlack, static_cast<int64_t>(std::floor(static_cast<double>(least) * kCapFactor)));
  auto full = [](const Seen& s) { return s.c->engine && s.c->engine->Full(); };
  bool room = false;  // some eligible candidate's engine has a free slot (or does not say)
  for (const auto& s : tier) room = room || (s.load <= cap && !full(s));
  // The least loaded eligible candidate, and the one with the longest matched prefix.
  auto less_loaded = [](const Seen& x, const Seen& y) {
    const int64_t dx = x.n == nullptr ? 0 : x.n->dispatched;
    const int64_t dy = y.n == nullptr ? 0 : y.n->dispatched;
    if (x.load != y.load) return x.load < y.load;
    if (dx != dy) return dx < dy;
    return x.c->node_id < y.c->node_id;
  };
  const Seen* idle = nullptr;
  const Seen* affine = nullptr;
  int64_t affine_match = 0;
  for (const auto& s : tier) {
    if (s.load > cap) continue;
    ++d.eligible;
    if (idle == nullptr || less_loaded(s, *idle)) idle = &s;
    if (room && full(s)) continue;  // its engine would queue the request: no affinity
    const int64_t match = Matched(s.n, hashes);
    if (match > affine_match ||
        (match == affine_match && affine != nullptr && match > 0 && less_loaded(s, *affine))) {
      affine = &s;
      affine_match = match;
    }
  }
  const bool follow = affine != nullptr && affine_match * 2 > static_cast<int64_t>(hashes.size());
  const Seen* best = follow ? affine : idle;
  const int64_t best_match = follow ? affine_match : Matched(idle->n, hashes);
  d.node_id = best->c->node_id;
  d.loaded = best->c->loaded;
  d.matched_blocks = best_match;
  d.in_flight = best->in_flight;
  d.load = best->load;
  d.engine = best->c->engine;
  d.load_cap = cap;
  return d;
}

void Router::Begin(const std::string& node_id) {
  std::lock_guard lock(mu_);
  NodeState& n = nodes_[node_id];
  ++n.in_flight;
  ++n.dispatched;
}

void Router::Served(const std::string& node_id, const std::vector<uint64_t>& hashes) {
  std::lock_guard lock(mu_);
  NodeState& n = nodes_[node_id];
  for (uint64_t h : hashes) {
    if (!n.blocks.insert(h).second) continue;
    n.order.push_back(h);
    if (n.order.size() > kBlocksPerNode) {
      n.blocks.erase(n.order.front());
      n.order.pop_front();
    }
  }
}

void Router::End(const std::string& node_id) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  if (it != nodes_.end() && it->second.in_flight > 0) --it->second.in_flight;
}

int64_t Router::InFlight(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  return it == nodes_.end() ? 0 : it->second.in_flight;
}

int64_t Router::TotalInFlight() const {
  std::lock_guard lock(mu_);
  int64_t total = 0;
  for (const auto& [id, n] : nodes_) total += n.in_flight;
  return total;
}

}  // namespace populi::inference
