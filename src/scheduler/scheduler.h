// Task placement: filter → score → explain (docs/scheduler.md).
//
// Pure: no I/O and no clock; the caller passes the candidate nodes, the control plane's
// reservations on each and the current time. Capacity comes only from probed figures
// (Layer A/B, docs/capacity.md); labels restrict or prefer, never add capacity.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/task.h"
#include "mesh/types.h"

namespace populi::scheduler {

// A placement the control plane has recorded on a node (an attempt not yet ended).
struct Reservation {
  std::string task_id;
  std::vector<std::string> gpu_uuids;  // devices held; each holds gpu_memory_bytes
  uint64_t gpu_memory_bytes = 0;       // per GPU in gpu_uuids
  uint32_t cpus = 0;
  uint64_t memory_bytes = 0;
};

// One node that could take the task, with every active reservation the control plane holds on
// it. A reservation whose task_id is in node->running_tasks has been reported by the node's
// agent and is already inside its Layer B figures: it is not subtracted again. Every other
// reservation (placed, not yet reported) is subtracted from the GPUs it names and from the
// node's cpus and memory. A reservation naming a GPU the node does not have changes no GPU.
struct Candidate {
  const mesh::NodeRecord* node = nullptr;  // must outlive the call; null entries are skipped
  std::vector<Reservation> reservations;
};

// Reason codes for rejected nodes, in the order they are checked. A rejected node counts under
// the first that applies and only that one.
//   down                 state left or down
//   suspect              state suspect (missed heartbeats; not given new work)
//   quarantined
//   maintenance          mesh::InMaintenance at now_ms (an ended window is eligible)
//   denied               in constraints.node_deny
//   not_allowed          constraints.node_allow is non-empty and does not name the node
//   privacy              mesh::PrivacyAllows says no
//   not_donating         the node's donation policy refuses work from this submitter
//                        (mesh::DonationRefusal: disabled, kind not accepted, priority too low)
//   not_paired           the task names secrets and the node is neither its submitter nor
//                        paired with it (mesh::PairingAllows; docs/secrets.md)
//   label_mismatch       a required label is missing or has another value
//   insufficient_gpus    fewer GPUs than asked for
//   insufficient_vram    fewer than `gpus` devices with gpu_memory_bytes allocatable each
//   insufficient_cpu     cpus > threads (cores when threads is 0) − unreported reservations
//   insufficient_memory  memory_bytes > memory_available_bytes − unreported reservations
std::span<const std::string_view> RejectReasons();

// The reason `candidate` cannot take `spec` at `now_ms`, or "" when it can. Same rules as Place.
std::string_view RejectReason(const mesh::TaskSpec& spec, const Candidate& candidate,
                              int64_t now_ms);

// Chooses a node for `spec` among `candidates`.
//
// A device's allocatable memory is its Layer B figure (memory_allocatable_bytes) when the node
// reports Layer B (gpu_truth_layer "layer_b_allocatable"), where 0 means full; otherwise a 0
// there means "not computed" and memory_free_bytes (Layer A) is used. Unreported reservations
// are then subtracted. A task with gpu_memory_bytes but gpus = 0 is treated as asking for 1 GPU.
//
// Among the eligible nodes, higher first:
//   1. number of preferred labels the node matches (each outranks any capacity difference);
//   2. GPU tasks: the `gpus` devices with the most allocatable memory are chosen, and the node
//      with the most VRAM left on those devices after placement wins (spreads load);
//      CPU-only tasks: fewest active reservations (reported or not), then most cpus left;
//   3. smallest node id (deterministic).
//
// The decision counts every non-null candidate in nodes_considered and each rejected one under
// its reason, and carries a one-line summary such as
//   "8 nodes: 3 down, 2 insufficient VRAM (need 12G, best 8G free); chose gpu-2 (most VRAM free
//    after placement)"
//   "0 nodes: no node has joined; no node fits"
mesh::PlacementDecision Place(const mesh::TaskSpec& spec, std::span<const Candidate> candidates,
                              int64_t now_ms);

}  // namespace populi::scheduler
