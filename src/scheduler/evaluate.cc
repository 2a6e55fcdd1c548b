#include "scheduler/evaluate.h"

#include <algorithm>

#include "mesh/policy.h"

namespace populi::scheduler::internal {

namespace {

// Set by probe::ApplyCapacity: memory_allocatable_bytes is Layer B, and 0 there means full.
constexpr std::string_view kLayerB = "layer_b_allocatable";

uint64_t Saturating(uint64_t a, uint64_t b) {
  return a > b ? a - b : 0;
}

std::vector<std::string_view> SortedViews(const std::vector<std::string>& ids) {
  std::vector<std::string_view> out(ids.begin(), ids.end());
  std::sort(out.begin(), out.end());
  return out;
}

bool Contains(const std::vector<std::string_view>& sorted, std::string_view id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

// Most allocatable first; equal figures keep device order, so the choice is deterministic.
bool BetterGpu(const std::pair<uint64_t, uint32_t>& a, const std::pair<uint64_t, uint32_t>& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

}  // namespace

Evaluator::Evaluator(const mesh::TaskSpec& spec, int64_t now_ms)
    : spec_(spec),
      now_ms_(now_ms),
      deny_(SortedViews(spec.constraints.node_deny)),
      allow_(SortedViews(spec.constraints.node_allow)) {
  const mesh::Resources& r = spec.resources;
  need_.gpus = r.gpus == 0 && r.gpu_memory_bytes > 0 ? 1 : r.gpus;
  need_.gpu_memory_bytes = r.gpu_memory_bytes;
  need_.cpus = r.cpus;
  need_.memory_bytes = r.memory_bytes;
}

bool Evaluator::IsDenied(const std::string& id) const {
  return Contains(deny_, id);
}

bool Evaluator::IsAllowed(const std::string& id) const {
  return allow_.empty() || Contains(allow_, id);
}

void Evaluator::MarkUnreported(const Candidate& candidate) {
  const std::vector<std::string>& running = candidate.node->running_tasks;
  unreported_.assign(candidate.reservations.size(), 1);
  for (size_t i = 0; i < candidate.reservations.size(); ++i) {
    const std::string& task_id = candidate.reservations[i].task_id;
    if (std::find(running.begin(), running.end(), task_id) != running.end()) unreported_[i] = 0;
  }
}

void Evaluator::RankGpus(const Candidate& candidate) {
  const mesh::NodeRecord& node = *candidate.node;
  const bool layer_b = node.gpu_truth_layer == kLayerB;
  gpus_.clear();
  for (uint32_t i = 0; i < node.gpus.size(); ++i) {
    const mesh::GpuDevice& g = node.gpus[i];
    uint64_t allocatable = g.memory_allocatable_bytes;
    if (allocatable == 0 && !layer_b) allocatable = g.memory_free_bytes;
    for (size_t r = 0; r < candidate.reservations.size(); ++r) {
      if (!unreported_[r]) continue;
      const Reservation& res = candidate.reservations[r];
      for (const std::string& uuid : res.gpu_uuids) {
        if (uuid == g.uuid) allocatable = Saturating(allocatable, res.gpu_memory_bytes);
      }
    }
    gpus_.emplace_back(allocatable, i);
  }
  const size_t k = std::min<size_t>(need_.gpus, gpus_.size());
  std::partial_sort(gpus_.begin(), gpus_.begin() + static_cast<std::ptrdiff_t>(k), gpus_.end(),
                    BetterGpu);
}

Evaluation Evaluator::Evaluate(const Candidate& candidate) {
  const mesh::NodeRecord& node = *candidate.node;
  Evaluation e;
  e.reservations = candidate.reservations.size();
  e.gpu_count = node.gpus.size();
  auto reject = [&e](Reason reason) {
    e.reason = reason;
    return e;
  };

  if (node.state == mesh::NodeState::kDown || node.state == mesh::NodeState::kLeft) {
    return reject(Reason::kDown);
  }
  if (node.state == mesh::NodeState::kSuspect) return reject(Reason::kSuspect);
  if (node.quarantined) return reject(Reason::kQuarantined);
  if (mesh::InMaintenance(node, now_ms_)) return reject(Reason::kMaintenance);
  if (IsDenied(node.id)) return reject(Reason::kDenied);
  if (!IsAllowed(node.id)) return reject(Reason::kNotAllowed);
  if (!mesh::PrivacyAllows(spec_.privacy_class, node)) return reject(Reason::kPrivacy);
  if (!mesh::DonationRefusal(node, spec_).empty()) return reject(Reason::kNotDonating);
  if (!mesh::PairingAllows(node, spec_)) return reject(Reason::kNotPaired);
  for (const auto& [key, value] : spec_.constraints.required_labels) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != value) return reject(Reason::kLabelMismatch);
  }
  for (const auto& [key, value] : spec_.constraints.preferred_labels) {
    auto it = node.labels.find(key);
    if (it != node.labels.end() && it->second == value) ++e.preferred_matches;
  }

  if (node.gpus.size() < need_.gpus) return reject(Reason::kInsufficientGpus);
  MarkUnreported(candidate);
  if (need_.gpus > 0) {
    RankGpus(candidate);
    e.kth_best_vram = gpus_[need_.gpus - 1].first;
    if (e.kth_best_vram < need_.gpu_memory_bytes) return reject(Reason::kInsufficientVram);
    for (uint32_t i = 0; i < need_.gpus; ++i) {
      e.vram_left += gpus_[i].first - need_.gpu_memory_bytes;
    }
  }

  uint64_t cpus_reserved = 0;
  uint64_t memory_reserved = 0;
  for (size_t r = 0; r < candidate.reservations.size(); ++r) {
    if (!unreported_[r]) continue;
    cpus_reserved += candidate.reservations[r].cpus;
    memory_reserved += candidate.reservations[r].memory_bytes;
  }
  const uint64_t cpu_capacity = node.cpu.threads != 0 ? node.cpu.threads : node.cpu.cores;
  e.cpus_free = Saturating(cpu_capacity, cpus_reserved);
  if (need_.cpus > e.cpus_free) return reject(Reason::kInsufficientCpu);
  e.cpus_left = e.cpus_free - need_.cpus;
  e.memory_free = Saturating(node.cpu.memory_available_bytes, memory_reserved);
  if (need_.memory_bytes > e.memory_free) return reject(Reason::kInsufficientMemory);
  return e;
}

std::vector<std::string> Evaluator::ChooseGpus(const Candidate& candidate) {
  std::vector<std::string> uuids;
  if (need_.gpus == 0 || candidate.node->gpus.size() < need_.gpus) return uuids;
  MarkUnreported(candidate);
  RankGpus(candidate);
  uuids.reserve(need_.gpus);
  for (uint32_t i = 0; i < need_.gpus; ++i) {
    uuids.push_back(candidate.node->gpus[gpus_[i].second].uuid);
  }
  return uuids;
}

}  // namespace populi::scheduler::internal
