// Cost of one model inventory scan over a large model directory (docs/models.md).
//
//   models_bench [--benchmark_filter=...] [--benchmark_repetitions=N]
//
// The directory: 10,000 files in 100 sub-directories — 9,950 that are not models (text, JSON,
// Python, images' worth of bytes: 1 KiB each) and 50 GGUF files (the tests' tiny llama header,
// each with its own tensor data, so 50 distinct content hashes) — plus one hub cache snapshot.
//   Warm:    the builder has scanned once; each iteration is the poll an agent makes (walk, stat
//            of each model file, cache hits, estimates, the inventory).
//   Restart: a new builder whose file cache is on disk (load it, then the same scan).
//   Cold:    a new builder and no cache: every GGUF header parsed and every file hashed.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "models/inventory.h"
#include "models/model_fixtures.h"

namespace {

using populi::models::InventoryBuilder;
using populi::models::InventoryOptions;
namespace fixtures = populi::models::testing;

constexpr int kDirs = 100;
constexpr int kFilesPerDir = 100;
constexpr int kGgufFiles = 50;

struct BenchTree {
  fixtures::TempDir root;
  InventoryOptions options;

  BenchTree() {
    const std::string filler(1024, 'x');
    const char* kExtensions[] = {".txt", ".json", ".py", ".md", ".png"};
    int gguf = 0;
    for (int d = 0; d < kDirs; ++d) {
      const std::string dir = root.Sub("models/project-" + std::to_string(d));
      for (int f = 0; f < kFilesPerDir; ++f) {
        // Every second directory holds one GGUF file in place of its first file.
        if (f == 0 && d % 2 == 0 && gguf < kGgufFiles) {
          std::string bytes = fixtures::TinyLlamaGguf().Build();
          bytes.back() = static_cast<char>(gguf++);
          fixtures::WriteBytes(dir + "/model-" + std::to_string(d) + ".Q4_K_M.gguf", bytes);
          continue;
        }
        fixtures::WriteBytes(dir + "/file-" + std::to_string(f) + kExtensions[f % 5], filler);
      }
    }
    const std::string snapshot =
        root.Sub("hub/models--org--tiny/snapshots/0123456789abcdef0123456789abcdef01234567");
    fixtures::WriteBytes(snapshot + "/config.json", fixtures::LlamaConfigJson());
    fixtures::WriteBytes(snapshot + "/model.safetensors",
                         fixtures::Safetensors({{"w", "BF16", {64, 64}}}));
    options.node_id = "bench";
    options.model_dirs = {root.Sub("models")};
    options.hf_hub_dir = root.Sub("hub");
  }
};

BenchTree& Tree() {
  static BenchTree tree;
  return tree;
}

void CheckInventory(const populi::mesh::ModelInventory& inv, benchmark::State& state) {
  if (inv.entries.size() != kGgufFiles + 1 || !inv.problems.empty())
    state.SkipWithError("the scan did not find the bench's models");
}

void BM_ScanWarm(benchmark::State& state) {
  InventoryBuilder builder(Tree().options);
  CheckInventory(builder.Build(), state);
  for (auto _ : state) {
    auto inv = builder.Build();
    benchmark::DoNotOptimize(inv);
  }
  state.counters["files"] = kDirs * kFilesPerDir;
}
BENCHMARK(BM_ScanWarm)->Unit(benchmark::kMillisecond);

void BM_ScanRestart(benchmark::State& state) {
  InventoryOptions options = Tree().options;
  options.cache_path = Tree().root.Sub("data/file-cache.json");
  {
    InventoryBuilder first(options);
    CheckInventory(first.Build(), state);
  }
  for (auto _ : state) {
    InventoryBuilder builder(options);
    auto inv = builder.Build();
    benchmark::DoNotOptimize(inv);
  }
}
BENCHMARK(BM_ScanRestart)->Unit(benchmark::kMillisecond);

void BM_ScanCold(benchmark::State& state) {
  for (auto _ : state) {
    InventoryBuilder builder(Tree().options);
    auto inv = builder.Build();
    benchmark::DoNotOptimize(inv);
  }
}
BENCHMARK(BM_ScanCold)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
