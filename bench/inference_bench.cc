// One front-door routing decision over 50 nodes × 200 models (Google Benchmark; bench/README.md):
// the candidates looked up in the inventories' index (inference::ModelIndex, built once per store
// read as the control plane does), the block hashes of a 4 KiB conversation, and the router's
// pick against nodes that each remember 100 conversations. Every node holds every model: the
// worst case, 50 candidates.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "inference/router.h"
#include "inference/targets.h"

namespace {

using populi::inference::BlockHashes;
using populi::inference::Router;

constexpr int kNodes = 50;
constexpr int kModels = 200;
constexpr int64_t kNow = 1'000'000;

std::vector<populi::models::NodeInventory> Inventories() {
  std::vector<populi::models::NodeInventory> nodes;
  for (int n = 0; n < kNodes; ++n) {
    populi::models::NodeInventory inv;
    inv.node.id = "node-" + std::to_string(n);
    inv.node.state = populi::mesh::NodeState::kAlive;
    inv.node.cpu.memory_available_bytes = 64ull << 30;
    inv.refreshed_ms = kNow;
    inv.poll_ms = 60'000;
    const std::string endpoint = "http://10.0.0." + std::to_string(n) + ":8080";
    for (int m = 0; m < kModels; ++m) {
      populi::mesh::ModelEntry e;
      e.name = "model-" + std::to_string(m);
      e.id = e.name + "@" + endpoint;
      e.source = populi::mesh::ModelSource::kEngine;
      e.endpoint = endpoint;
      e.loaded = (m + n) % 3 != 0;
      inv.stored.inventory.entries.push_back(std::move(e));
    }
    nodes.push_back(std::move(inv));
  }
  return nodes;
}

std::string Conversation(int i) {
  std::string text(1024, 's');  // a shared system prompt
  text += "conversation " + std::to_string(i) + " ";
  text.resize(4096, static_cast<char>('a' + i % 26));
  return text;
}

void WarmRouter(Router& router) {
  for (int i = 0; i < 100 * kNodes; ++i) {
    const std::string node = "node-" + std::to_string(i % kNodes);
    router.Served(node, BlockHashes(Conversation(i)));
  }
}

void BM_RoutingDecision(benchmark::State& state) {
  const populi::inference::ModelIndex index(Inventories());
  Router router;
  WarmRouter(router);
  const std::string text = Conversation(7) + " and a follow-up question";
  int i = 0;
  for (auto _ : state) {
    const auto targets = index.TargetsFor("model-" + std::to_string(i++ % kModels), kNow);
    std::vector<populi::inference::Candidate> candidates;
    candidates.reserve(targets.size());
    for (const auto& t : targets) candidates.push_back(t.candidate);
    const auto hashes = BlockHashes(text);
    benchmark::DoNotOptimize(router.Pick(candidates, hashes));
  }
}
BENCHMARK(BM_RoutingDecision)->Unit(benchmark::kMicrosecond);

void BM_PickOnly(benchmark::State& state) {
  Router router;
  WarmRouter(router);
  std::vector<populi::inference::Candidate> candidates;
  for (int n = 0; n < kNodes; ++n) candidates.push_back({"node-" + std::to_string(n), true});
  const auto hashes = BlockHashes(Conversation(7) + " and a follow-up question");
  for (auto _ : state) benchmark::DoNotOptimize(router.Pick(candidates, hashes));
}
BENCHMARK(BM_PickOnly)->Unit(benchmark::kMicrosecond);

// Building the index once per store read (every 1 s at most under load).
void BM_IndexBuild(benchmark::State& state) {
  const auto nodes = Inventories();
  for (auto _ : state) benchmark::DoNotOptimize(populi::inference::ModelIndex(nodes));
}
BENCHMARK(BM_IndexBuild)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
