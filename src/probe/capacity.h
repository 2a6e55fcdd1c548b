// Capacity layers (ADR-018, MESH-049; docs/capacity.md).
//
//   Layer A  probed facts per device (the ProbeReport).
//   Layer B  allocatable = probed free − reservations of tasks running on this node −
//            the [mesh.donation] reserve, floored at 0. Admission uses Layer B only.
//   Layer C  labels and the legacy VOX_MESH_ADVERTISE_* / VOX_GPU_MODEL / VOX_GPU_VRAM_MB flags:
//            hints that may restrict or prefer, never added to capacity. Disagreements with
//            Layer A are reported as conflicts (shown by `vox doctor`).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mesh/types.h"
#include "probe/pipeline.h"

namespace populi::probe {

// What one running task holds on this node. `gpu_uuid` empty = no GPU memory held.
struct TaskReservation {
  std::string task_id;
  std::string gpu_uuid;
  uint64_t gpu_memory_bytes = 0;
  uint32_t cpu_cores = 0;
  uint64_t memory_bytes = 0;
};

// The owner's own share, never offered to the mesh ([mesh.donation] reserve_*).
struct DonationReserve {
  uint64_t gpu_memory_bytes = 0;  // kept back on every GPU
  uint32_t cpu_cores = 0;
  uint64_t memory_bytes = 0;  // system RAM
};

// Layer C: what the operator claims. Unset optionals were not given.
struct AdvertisedHints {
  std::optional<bool> gpu;              // VOX_MESH_ADVERTISE_GPU
  std::optional<bool> vulkan;           // VOX_MESH_ADVERTISE_VULKAN
  std::optional<bool> webgpu;           // VOX_MESH_ADVERTISE_WEBGPU
  std::optional<bool> npu;              // VOX_MESH_ADVERTISE_NPU
  std::string gpu_model;                // VOX_GPU_MODEL
  std::optional<uint64_t> gpu_vram_mb;  // VOX_GPU_VRAM_MB
  std::map<std::string, std::string> labels;
  std::vector<std::string> parse_errors;  // flags whose values could not be read
};

// Looks up an environment variable; null when unset. Tests pass their own.
using EnvLookup = std::function<const char*(const char*)>;
// std::getenv.
EnvLookup ProcessEnv();

// Reads the legacy flags (1/0, true/false, yes/no, on/off; VRAM as whole MiB). Bad values are
// recorded in parse_errors, never guessed.
AdvertisedHints ReadAdvertisedHints(const EnvLookup& env,
                                    std::map<std::string, std::string> labels = {});

// A disagreement between Layer C and Layer A, e.g. VOX_MESH_ADVERTISE_GPU=1 with no GPU probed.
struct CapacityConflict {
  std::string flag;        // "VOX_MESH_ADVERTISE_GPU"
  std::string advertised;  // "1"
  std::string probed;      // "0 GPUs (nvml failed: library_missing)"
  std::string message;     // one line for doctor
};

struct DeviceCapacity {
  std::string uuid;
  std::string name;
  uint64_t probed_total_bytes = 0;  // Layer A
  uint64_t probed_free_bytes = 0;   // Layer A
  uint64_t task_reserved_bytes = 0;
  uint64_t donation_reserve_bytes = 0;
  uint64_t allocatable_bytes = 0;  // Layer B
};

struct NodeCapacity {
  std::vector<DeviceCapacity> gpus;
  uint32_t cpu_cores_probed = 0;
  uint32_t cpu_cores_allocatable = 0;
  uint64_t memory_available_probed = 0;
  uint64_t memory_allocatable = 0;
  // Reservations naming a GPU this node does not have (stale or wrong task records).
  std::vector<std::string> unmatched_reservations;
  std::vector<CapacityConflict> conflicts;  // Layer C vs Layer A
};

// Computes Layers B and C from a report. Hints are compared, never added.
NodeCapacity ComputeCapacity(const ProbeReport& report, const std::vector<TaskReservation>& running,
                             const DonationReserve& reserve, const AdvertisedHints& hints);

// Writes Layer B into the record's GPUs (memory_allocatable_bytes, matched by uuid) and sets
// gpu_inventory_source = "probed", gpu_truth_layer = "layer_b_allocatable". Labels are copied
// from the hints; they change no capacity figure.
void ApplyCapacity(const NodeCapacity& capacity, const AdvertisedHints& hints,
                   mesh::NodeRecord* record);

}  // namespace populi::probe
