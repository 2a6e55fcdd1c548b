// Routing of front-door requests (docs/inference.md, "Routing"): which node serves a request for
// a model. Pure and in memory: no I/O, no clock; the control plane feeds it the candidates it
// read from the inventories and tells it when each request starts and ends.
//
// The rule, per request:
//  1. Candidates are the nodes that can serve the model: those whose engine has it loaded form
//     the first tier; nodes that hold it on disk and pass the memory admission check the second,
//     used only when the first is empty. Nodes the request already failed on are left out.
//  2. Load cap: a candidate's load is its requests in flight here, or, when its engine reported
//     more (busy + waiting, fresh: the engine also runs work that did not come through this
//     front door), the engine's count. A candidate with more load than
//     max(least + kCapSlack, least × kCapFactor) — least being the least-loaded candidate's —
//     is not eligible, so affinity never piles work onto one node.
//  3. Prefix affinity: the rendered conversation is cut into kBlockBytes blocks, each hashed
//     together with every block before it. Among eligible nodes the one that served the longest
//     run of the request's leading blocks wins, when that run is more than half the request
//     (a shared system prompt alone is no reason to follow a node: every node would soon have
//     it, and the first to serve it would take every new conversation). Otherwise, and for
//     ties, the least load wins, then the fewest dispatched so far, then the node id. A node
//     whose engine reports every slot busy is never chosen by affinity while an eligible
//     candidate has room.
// In-flight counts move only through Begin / End; the caller ends each Begin exactly once.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "mesh/inference.h"

namespace populi::inference {

inline constexpr size_t kBlockBytes = 128;
inline constexpr int64_t kCapSlack = 2;
inline constexpr double kCapFactor = 1.5;
// Block hashes remembered per node (oldest forgotten first): about what an engine's prefix
// cache holds of recent conversations.
inline constexpr size_t kBlocksPerNode = 65'536;

// The chained hashes of `text`'s full kBlockBytes blocks: hash i covers blocks 0..i, so equal
// hash i means an equal prefix of (i + 1) blocks. A trailing partial block is not hashed.
std::vector<uint64_t> BlockHashes(std::string_view text, size_t block_bytes = kBlockBytes);

struct Candidate {
  std::string node_id;
  bool loaded = false;  // the engine has the model in memory (tier 1); else on disk (tier 2)
  std::optional<mesh::EngineLoad> engine;  // its engine's own report, only when fresh
};

struct Decision {
  std::string node_id;  // empty: no candidate left
  bool loaded = false;
  int64_t matched_blocks = 0;
  int64_t in_flight = 0;  // the chosen node's, before this request
  int64_t load = 0;       // the chosen node's load: max(in_flight, its engine's busy + waiting)
  std::optional<mesh::EngineLoad> engine;  // the chosen candidate's engine report
  int64_t load_cap = 0;
  int64_t eligible = 0;  // candidates under the cap
};

class Router {
 public:
  // Picks a node for a request of `hashes` among `candidates`, leaving out `excluded`.
  Decision Pick(const std::vector<Candidate>& candidates, const std::vector<uint64_t>& hashes,
                const std::set<std::string>& excluded = {}) const;
  // A request was dispatched to `node_id`: one more in flight.
  void Begin(const std::string& node_id);
  // `node_id`'s engine answered a request of `hashes`: its blocks are now in that engine's
  // prefix cache (an attempt that failed leaves no blocks behind).
  void Served(const std::string& node_id, const std::vector<uint64_t>& hashes);
  // A request dispatched to `node_id` ended (whatever way). Never below zero.
  void End(const std::string& node_id);

  int64_t InFlight(const std::string& node_id) const;
  int64_t TotalInFlight() const;

 private:
  struct NodeState {
    int64_t in_flight = 0;
    int64_t dispatched = 0;
    std::unordered_set<uint64_t> blocks;
    std::deque<uint64_t> order;  // insertion order, for forgetting the oldest
  };
  int64_t Matched(const NodeState* n, const std::vector<uint64_t>& hashes) const;

  mutable std::mutex mu_;
  std::map<std::string, NodeState, std::less<>> nodes_;
};

}  // namespace populi::inference
