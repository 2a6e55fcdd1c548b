#include "scheduler/scheduler.h"

#include <algorithm>
#include <array>
#include <utility>

#include "scheduler/evaluate.h"
#include "util/units.h"

namespace populi::scheduler {

namespace {

using internal::Evaluation;
using internal::Evaluator;
using internal::Reason;

// Labels for the summary line, indexed like RejectReasons().
constexpr std::array<std::string_view, internal::kReasonCount> kReasonText{
    "down",
    "suspect",
    "quarantined",
    "maintenance",
    "denied",
    "not allowed",
    "privacy",
    "not donating",
    "not paired with the submitter",
    "label mismatch",
    "insufficient GPUs",
    "insufficient VRAM",
    "insufficient CPU",
    "insufficient memory"};

// What the nodes rejected for a capacity reason had at best, for the summary line.
struct BestSeen {
  size_t gpus = 0;
  uint64_t vram = 0;
  uint64_t cpus = 0;
  uint64_t memory = 0;

  void Add(const Evaluation& e) {
    switch (e.reason) {
      case Reason::kInsufficientGpus:
        gpus = std::max(gpus, e.gpu_count);
        break;
      case Reason::kInsufficientVram:
        vram = std::max(vram, e.kth_best_vram);
        break;
      case Reason::kInsufficientCpu:
        cpus = std::max(cpus, e.cpus_free);
        break;
      case Reason::kInsufficientMemory:
        memory = std::max(memory, e.memory_free);
        break;
      default:
        break;
    }
  }
};

// Ordering of eligible nodes: > 0 when `a` ranks above `b`, 0 when tied (before the id).
int CompareRank(const Evaluation& a, const Evaluation& b, bool gpu_task) {
  if (a.preferred_matches != b.preferred_matches) {
    return a.preferred_matches > b.preferred_matches ? 1 : -1;
  }
  if (gpu_task) {
    if (a.vram_left != b.vram_left) return a.vram_left > b.vram_left ? 1 : -1;
    return 0;
  }
  if (a.reservations != b.reservations) return a.reservations < b.reservations ? 1 : -1;
  if (a.cpus_left != b.cpus_left) return a.cpus_left > b.cpus_left ? 1 : -1;
  return 0;
}

std::string NodesPhrase(int n) {
  return std::to_string(n) + (n == 1 ? " node" : " nodes");
}

std::string ReasonPhrase(size_t reason, int count, const internal::Need& need,
                         const BestSeen& best) {
  std::string out = std::to_string(count) + " " + std::string(kReasonText[reason]);
  switch (static_cast<Reason>(reason)) {
    case Reason::kInsufficientGpus:
      out += " (need " + std::to_string(need.gpus) + ", best " + std::to_string(best.gpus) + ")";
      break;
    case Reason::kInsufficientVram:
      out += " (need " + FormatBytes(need.gpu_memory_bytes);
      if (need.gpus > 1) out += " on " + std::to_string(need.gpus) + " GPUs";
      out += ", best " + FormatBytes(best.vram) + " free)";
      break;
    case Reason::kInsufficientCpu:
      out +=
          " (need " + std::to_string(need.cpus) + ", best " + std::to_string(best.cpus) + " free)";
      break;
    case Reason::kInsufficientMemory:
      out += " (need " + FormatBytes(need.memory_bytes) + ", best " + FormatBytes(best.memory) +
             " free)";
      break;
    default:
      break;
  }
  return out;
}

std::string WhyChosen(const Evaluation& winner, bool gpu_task, bool tied) {
  std::string why;
  if (winner.preferred_matches > 0) {
    why += "matches " + std::to_string(winner.preferred_matches) + " preferred label" +
           (winner.preferred_matches == 1 ? "" : "s") + ", ";
  }
  why += gpu_task ? "most VRAM free after placement"
                  : "fewest reservations, most CPUs free after placement";
  if (tied) why += "; tie broken by node id";
  return why;
}

}  // namespace

std::span<const std::string_view> RejectReasons() {
  return internal::kReasonCodes;
}

std::string_view RejectReason(const mesh::TaskSpec& spec, const Candidate& candidate,
                              int64_t now_ms) {
  if (candidate.node == nullptr) return {};
  Evaluator evaluator(spec, now_ms);
  Reason reason = evaluator.Evaluate(candidate).reason;
  if (reason == Reason::kEligible) return {};
  return internal::kReasonCodes[static_cast<size_t>(reason)];
}

mesh::PlacementDecision Place(const mesh::TaskSpec& spec, std::span<const Candidate> candidates,
                              int64_t now_ms) {
  Evaluator evaluator(spec, now_ms);
  const internal::Need& need = evaluator.need();
  const bool gpu_task = need.gpus > 0;

  std::array<int, internal::kReasonCount> rejected{};
  BestSeen best_seen;
  const Candidate* winner = nullptr;
  Evaluation winner_eval;
  bool tied = false;
  int considered = 0;

  for (const Candidate& c : candidates) {
    if (c.node == nullptr) continue;
    ++considered;
    Evaluation e = evaluator.Evaluate(c);
    if (e.reason != Reason::kEligible) {
      ++rejected[static_cast<size_t>(e.reason)];
      best_seen.Add(e);
      continue;
    }
    if (winner == nullptr) {
      winner = &c;
      winner_eval = e;
      continue;
    }
    int cmp = CompareRank(e, winner_eval, gpu_task);
    if (cmp == 0) {
      tied = true;
      if (c.node->id < winner->node->id) {
        winner = &c;
        winner_eval = e;
      }
    } else if (cmp > 0) {
      winner = &c;
      winner_eval = e;
      tied = false;
    }
  }

  mesh::PlacementDecision d;
  d.nodes_considered = considered;
  std::string summary = NodesPhrase(considered) + ": ";
  bool any_rejected = false;
  for (size_t r = 0; r < rejected.size(); ++r) {
    if (rejected[r] == 0) continue;
    d.rejected[std::string(internal::kReasonCodes[r])] = rejected[r];
    if (any_rejected) summary += ", ";
    summary += ReasonPhrase(r, rejected[r], need, best_seen);
    any_rejected = true;
  }
  if (considered == 0) summary += "no node has joined";
  if (considered > 0 && !any_rejected) summary += "all eligible";

  if (winner == nullptr) {
    summary += "; no node fits";
  } else {
    d.placed = true;
    d.node_id = winner->node->id;
    d.gpu_uuids = evaluator.ChooseGpus(*winner);
    summary += "; chose " + d.node_id + " (" + WhyChosen(winner_eval, gpu_task, tied) + ")";
  }
  d.summary = std::move(summary);
  return d;
}

}  // namespace populi::scheduler
