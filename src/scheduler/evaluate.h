// Internal to scheduler/: judging one candidate against one task. Not a public header.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mesh/task.h"
#include "scheduler/scheduler.h"

namespace populi::scheduler::internal {

// Filter order (scheduler.h, RejectReasons); kEligible = passed every filter.
enum class Reason {
  kDown,
  kSuspect,
  kQuarantined,
  kMaintenance,
  kDenied,
  kNotAllowed,
  kPrivacy,
  kNotDonating,
  kNotPaired,
  kLabelMismatch,
  kInsufficientGpus,
  kInsufficientVram,
  kInsufficientCpu,
  kInsufficientMemory,
  kEligible,
};
inline constexpr size_t kReasonCount = static_cast<size_t>(Reason::kEligible);

inline constexpr std::array<std::string_view, kReasonCount> kReasonCodes{"down",
                                                                         "suspect",
                                                                         "quarantined",
                                                                         "maintenance",
                                                                         "denied",
                                                                         "not_allowed",
                                                                         "privacy",
                                                                         "not_donating",
                                                                         "not_paired",
                                                                         "label_mismatch",
                                                                         "insufficient_gpus",
                                                                         "insufficient_vram",
                                                                         "insufficient_cpu",
                                                                         "insufficient_memory"};

// What the task asks for, after normalisation (gpu memory without a GPU count means one GPU).
struct Need {
  uint32_t gpus = 0;
  uint64_t gpu_memory_bytes = 0;
  uint32_t cpus = 0;
  uint64_t memory_bytes = 0;
};

// One candidate judged. Capacity fields are filled as far as the filters got.
struct Evaluation {
  Reason reason = Reason::kEligible;
  int preferred_matches = 0;
  size_t reservations = 0;     // active reservations on the node, reported or not
  size_t gpu_count = 0;        // devices on the node
  uint64_t kth_best_vram = 0;  // allocatable memory of the need.gpus-th best device
  uint64_t vram_left = 0;      // Σ (allocatable − need) over the chosen devices
  uint64_t cpus_free = 0;      // before this task
  uint64_t cpus_left = 0;      // after this task
  uint64_t memory_free = 0;    // before this task
};

// Judges candidates for one task at one time. Keeps scratch buffers between calls, so one
// instance serves a whole placement without allocating per node. Not thread-safe.
class Evaluator {
 public:
  Evaluator(const mesh::TaskSpec& spec, int64_t now_ms);

  const Need& need() const { return need_; }

  Evaluation Evaluate(const Candidate& candidate);

  // UUIDs of the devices a GPU task gets on an eligible candidate (most allocatable first,
  // ties in device order); empty for a CPU-only task.
  std::vector<std::string> ChooseGpus(const Candidate& candidate);

 private:
  bool IsDenied(const std::string& id) const;
  bool IsAllowed(const std::string& id) const;
  // Fills unreported_ with, per reservation, whether it must still be subtracted.
  void MarkUnreported(const Candidate& candidate);
  // Fills gpus_ with (allocatable, device index), best need_.gpus first.
  void RankGpus(const Candidate& candidate);

  const mesh::TaskSpec& spec_;
  int64_t now_ms_;
  Need need_;
  std::vector<std::string_view> deny_;   // sorted
  std::vector<std::string_view> allow_;  // sorted
  std::vector<char> unreported_;
  std::vector<std::pair<uint64_t, uint32_t>> gpus_;
};

}  // namespace populi::scheduler::internal
