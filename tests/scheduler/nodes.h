// Node and task builders for the scheduler tests.
#pragma once

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mesh/task.h"
#include "mesh/types.h"
#include "scheduler/scheduler.h"

namespace populi::scheduler::testing {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

// A device whose Layer A free figure is `free`; Layer B left uncomputed (0).
inline mesh::GpuDevice Gpu(std::string uuid, uint64_t free) {
  mesh::GpuDevice g;
  g.uuid = std::move(uuid);
  g.name = "test gpu";
  g.memory_total_bytes = free;
  g.memory_free_bytes = free;
  return g;
}

// An alive, private, trusted node with `threads` CPU threads and `memory` available.
inline mesh::NodeRecord Node(std::string id, uint32_t threads = 16, uint64_t memory = 64 * kGiB) {
  mesh::NodeRecord n;
  n.id = std::move(id);
  n.cpu.cores = threads / 2;
  n.cpu.threads = threads;
  n.cpu.memory_total_bytes = memory;
  n.cpu.memory_available_bytes = memory;
  return n;
}

// A node reporting Layer B: one GPU per entry of `allocatable`, free = allocatable + 1 GiB
// (the owner's reserve), so a test that read Layer A instead would see a different figure.
inline mesh::NodeRecord GpuNode(std::string id, std::vector<uint64_t> allocatable,
                                uint32_t threads = 16) {
  mesh::NodeRecord n = Node(id, threads);
  for (size_t i = 0; i < allocatable.size(); ++i) {
    mesh::GpuDevice g = Gpu(id + "-gpu" + std::to_string(i), allocatable[i] + kGiB);
    g.memory_allocatable_bytes = allocatable[i];
    n.gpus.push_back(std::move(g));
  }
  n.gpu_inventory_source = "probed";
  n.gpu_truth_layer = "layer_b_allocatable";
  return n;
}

inline mesh::TaskSpec GpuTask(uint64_t gpu_memory, uint32_t gpus = 1) {
  mesh::TaskSpec t;
  t.command = "train";
  t.resources.gpus = gpus;
  t.resources.gpu_memory_bytes = gpu_memory;
  return t;
}

inline mesh::TaskSpec CpuTask(uint32_t cpus, uint64_t memory = 0) {
  mesh::TaskSpec t;
  t.command = "build";
  t.resources.cpus = cpus;
  t.resources.memory_bytes = memory;
  return t;
}

inline Reservation Reserve(std::string task_id, std::vector<std::string> gpu_uuids,
                           uint64_t gpu_memory, uint32_t cpus = 0, uint64_t memory = 0) {
  Reservation r;
  r.task_id = std::move(task_id);
  r.gpu_uuids = std::move(gpu_uuids);
  r.gpu_memory_bytes = gpu_memory;
  r.cpus = cpus;
  r.memory_bytes = memory;
  return r;
}

// Owns node records (stable addresses) and the candidates pointing at them.
class Mesh {
 public:
  mesh::NodeRecord& Add(mesh::NodeRecord node) {
    nodes_.push_back(std::move(node));
    Candidate c;
    c.node = &nodes_.back();
    candidates_.push_back(std::move(c));
    return nodes_.back();
  }
  // The candidate entry of node `id` (added earlier).
  Candidate& At(const std::string& id) {
    for (Candidate& c : candidates_) {
      if (c.node->id == id) return c;
    }
    throw std::out_of_range("no node " + id);
  }
  const std::vector<Candidate>& candidates() const { return candidates_; }
  mesh::PlacementDecision Place(const mesh::TaskSpec& spec, int64_t now_ms = 1'000'000) const {
    return scheduler::Place(spec, candidates_, now_ms);
  }

 private:
  std::deque<mesh::NodeRecord> nodes_;
  std::vector<Candidate> candidates_;
};

}  // namespace populi::scheduler::testing
