// Cost of one placement decision over a large mesh (docs/scheduler.md).
//
//   scheduler_bench [--benchmark_filter=...] [--benchmark_repetitions=N]
//
// The mesh: 1,000 nodes (or the benchmark's argument) in mixed states (about 5 % down, 3 %
// suspect, 2 % in maintenance, 1 % quarantined), 40 % with 1–8 GPUs of 8–80 GiB, the rest
// CPU-only, and about two active reservations per node (one already reported by the node's
// agent, one not). A 1-GPU 12 GiB task and a 4-CPU task are placed against it; the decision
// (filters, scores, GPU choice and the summary line) is built in full every iteration.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "scheduler/scheduler.h"

namespace {

using populi::mesh::NodeRecord;
using populi::mesh::TaskSpec;
using populi::scheduler::Candidate;
using populi::scheduler::Reservation;

constexpr uint64_t kGiB = uint64_t{1} << 30;

struct BenchMesh {
  std::deque<NodeRecord> nodes;
  std::vector<Candidate> candidates;
};

BenchMesh MakeMesh(int n) {
  std::mt19937_64 rng(20261127);  // fixed: every run measures the same mesh
  auto pct = [&rng]() { return static_cast<int>(rng() % 100); };
  const uint64_t kVramGiB[] = {8, 16, 24, 40, 48, 80};
  BenchMesh m;
  for (int i = 0; i < n; ++i) {
    NodeRecord node;
    node.id = "node-" + std::to_string(100000 + i);
    node.cpu.cores = 8 + static_cast<uint32_t>(rng() % 56);
    node.cpu.threads = node.cpu.cores * 2;
    node.cpu.memory_available_bytes = (16 + rng() % 240) * kGiB;
    node.labels = {{"zone", "z" + std::to_string(i % 4)}, {"os", "linux"}};
    const int state = pct();
    if (state < 5) {
      node.state = populi::mesh::NodeState::kDown;
    } else if (state < 8) {
      node.state = populi::mesh::NodeState::kSuspect;
    } else if (state < 10) {
      node.maintenance = true;
    } else if (state < 11) {
      node.quarantined = true;
    }
    if (pct() < 40) {
      const int gpus = 1 + static_cast<int>(rng() % 8);
      const uint64_t vram = kVramGiB[rng() % 6] * kGiB;
      for (int g = 0; g < gpus; ++g) {
        populi::mesh::GpuDevice d;
        d.uuid = "GPU-" + node.id + "-" + std::to_string(g);
        d.memory_total_bytes = vram;
        d.memory_free_bytes = vram - (rng() % 4) * kGiB;
        d.memory_allocatable_bytes = d.memory_free_bytes > kGiB ? d.memory_free_bytes - kGiB : 0;
        node.gpus.push_back(std::move(d));
      }
      node.gpu_truth_layer = "layer_b_allocatable";
    }
    Candidate c;
    for (int r = 0; r < 2; ++r) {
      Reservation res;
      res.task_id = "task-" + std::to_string(i) + "-" + std::to_string(r);
      res.cpus = 1 + static_cast<uint32_t>(rng() % 4);
      res.memory_bytes = (1 + rng() % 8) * kGiB;
      if (!node.gpus.empty()) {
        res.gpu_uuids = {node.gpus[rng() % node.gpus.size()].uuid};
        res.gpu_memory_bytes = (2 + rng() % 10) * kGiB;
      }
      if (r == 0) node.running_tasks.push_back(res.task_id);  // the agent reported this one
      c.reservations.push_back(std::move(res));
    }
    m.nodes.push_back(std::move(node));
    c.node = &m.nodes.back();
    m.candidates.push_back(std::move(c));
  }
  return m;
}

void RunPlacement(benchmark::State& state, const TaskSpec& task) {
  const BenchMesh mesh = MakeMesh(static_cast<int>(state.range(0)));
  bool placed = false;
  for (auto _ : state) {
    populi::mesh::PlacementDecision d = populi::scheduler::Place(task, mesh.candidates, 1'000);
    placed = d.placed;
    benchmark::DoNotOptimize(d);
  }
  if (!placed) state.SkipWithError("the task found no node; the mesh is not what it should be");
  state.counters["nodes"] = static_cast<double>(state.range(0));
}

void BM_PlaceGpu12G(benchmark::State& state) {
  TaskSpec task;
  task.resources.gpus = 1;
  task.resources.gpu_memory_bytes = 12 * kGiB;
  RunPlacement(state, task);
}

void BM_PlaceCpu(benchmark::State& state) {
  TaskSpec task;
  task.resources.cpus = 4;
  task.resources.memory_bytes = 8 * kGiB;
  RunPlacement(state, task);
}

// The same GPU task with a required and a preferred label and a short deny list.
void BM_PlaceGpu12GConstrained(benchmark::State& state) {
  TaskSpec task;
  task.resources.gpus = 1;
  task.resources.gpu_memory_bytes = 12 * kGiB;
  task.constraints.required_labels = {{"os", "linux"}};
  task.constraints.preferred_labels = {{"zone", "z1"}};
  task.constraints.node_deny = {"node-100001", "node-100002", "node-100003"};
  RunPlacement(state, task);
}

BENCHMARK(BM_PlaceGpu12G)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PlaceCpu)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PlaceGpu12GConstrained)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
