#include "probe/capacity.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "probe/sysfs.h"

namespace populi::probe {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::optional<bool> ParseBool(const std::string& raw) {
  const std::string v = Lower(raw);
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

uint64_t Saturating(uint64_t a, uint64_t b) {
  return a > b ? a - b : 0;
}

std::string Failures(const ProbeReport& report) {
  std::string out;
  for (const auto& f : report.failures) {
    out += (out.empty() ? "" : ", ") + f.probe + " failed: " + f.kind;
  }
  return out;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

AdvertisedHints ReadAdvertisedHints(const EnvLookup& env,
                                    std::map<std::string, std::string> labels) {
  AdvertisedHints hints;
  hints.labels = std::move(labels);
  auto flag = [&](const char* name, std::optional<bool>* out) {
    const char* raw = env(name);
    if (raw == nullptr || raw[0] == '\0') return;
    *out = ParseBool(raw);
    if (!*out) hints.parse_errors.push_back(std::string(name) + ": expected 1/0, true/false");
  };
  flag("VOX_MESH_ADVERTISE_GPU", &hints.gpu);
  flag("VOX_MESH_ADVERTISE_VULKAN", &hints.vulkan);
  flag("VOX_MESH_ADVERTISE_WEBGPU", &hints.webgpu);
  flag("VOX_MESH_ADVERTISE_NPU", &hints.npu);
  if (const char* model = env("VOX_GPU_MODEL"); model != nullptr) hints.gpu_model = model;
  if (const char* vram = env("VOX_GPU_VRAM_MB"); vram != nullptr && vram[0] != '\0') {
    hints.gpu_vram_mb = internal::ParseDecimal(vram);
    if (!hints.gpu_vram_mb) hints.parse_errors.push_back("VOX_GPU_VRAM_MB: expected whole MiB");
  }
  return hints;
}

namespace {

std::vector<CapacityConflict> FindConflicts(const ProbeReport& report,
                                            const AdvertisedHints& hints) {
  std::vector<CapacityConflict> out;
  const size_t n = report.gpus.size();
  std::string probed = std::to_string(n) + (n == 1 ? " GPU" : " GPUs");
  if (!report.failures.empty()) probed += " (" + Failures(report) + ")";
  auto add = [&](std::string flag, std::string advertised, std::string seen, std::string msg) {
    out.push_back({std::move(flag), std::move(advertised), std::move(seen), std::move(msg)});
  };
  if (hints.gpu == true && n == 0) {
    add("VOX_MESH_ADVERTISE_GPU", "1", probed,
        "a GPU is advertised but none was probed; it is not offered to the mesh");
  }
  if (hints.gpu == false && n > 0) {
    add("VOX_MESH_ADVERTISE_GPU", "0", probed,
        "GPUs were probed although the flag says none; the probed GPUs count");
  }
  if (hints.vulkan == true) {
    bool seen = std::any_of(report.gpus.begin(), report.gpus.end(), [](const auto& g) {
      return std::find(g.confirmed_by.begin(), g.confirmed_by.end(), "vulkan") !=
             g.confirmed_by.end();
    });
    if (!seen) {
      add("VOX_MESH_ADVERTISE_VULKAN", "1", probed + ", none seen by the vulkan probe",
          "Vulkan is advertised but the vulkan probe saw no device");
    }
  }
  if (hints.webgpu == true) {
    add("VOX_MESH_ADVERTISE_WEBGPU", "1", "not probed",
        "WebGPU cannot be verified by any probe; the flag is kept as a label-like hint only");
  }
  if (hints.npu == true) {
    add("VOX_MESH_ADVERTISE_NPU", "1", "not probed",
        "NPUs cannot be verified by any probe; the flag is kept as a label-like hint only");
  }
  if (!hints.gpu_model.empty()) {
    const std::string want = Lower(hints.gpu_model);
    bool match = std::any_of(report.gpus.begin(), report.gpus.end(), [&](const auto& g) {
      return Lower(g.name).find(want) != std::string::npos;
    });
    if (!match) {
      std::string names;
      for (const auto& g : report.gpus) names += (names.empty() ? "" : ", ") + g.name;
      add("VOX_GPU_MODEL", hints.gpu_model, n == 0 ? probed : names,
          "the advertised GPU model matches no probed GPU");
    }
  }
  if (hints.gpu_vram_mb) {
    uint64_t largest = 0;
    for (const auto& g : report.gpus) largest = std::max(largest, g.memory_total_bytes);
    const uint64_t largest_mb = largest / (1024 * 1024);
    const uint64_t want = *hints.gpu_vram_mb;
    // 5% tolerance: vendors round marketing sizes; drivers reserve a little.
    const uint64_t diff = largest_mb > want ? largest_mb - want : want - largest_mb;
    if (n == 0 || diff * 20 > std::max<uint64_t>(want, 1)) {
      add("VOX_GPU_VRAM_MB", std::to_string(want),
          n == 0 ? probed : std::to_string(largest_mb) + " MiB on the largest GPU",
          "the advertised VRAM differs from the probed VRAM; the probed figure counts");
    }
  }
  for (const auto& e : hints.parse_errors) {
    add(e.substr(0, e.find(':')), "unreadable", "-", "ignored: " + e);
  }
  return out;
}

}  // namespace

NodeCapacity ComputeCapacity(const ProbeReport& report, const std::vector<TaskReservation>& running,
                             const DonationReserve& reserve, const AdvertisedHints& hints) {
  NodeCapacity cap;
  cap.gpus.reserve(report.gpus.size());
  for (const auto& g : report.gpus) {
    DeviceCapacity d;
    d.uuid = g.uuid;
    d.name = g.name;
    d.probed_total_bytes = g.memory_total_bytes;
    d.probed_free_bytes = g.memory_free_bytes;
    d.donation_reserve_bytes = reserve.gpu_memory_bytes;
    cap.gpus.push_back(std::move(d));
  }
  uint32_t cores_reserved = 0;
  uint64_t memory_reserved = 0;
  for (const auto& t : running) {
    cores_reserved += t.cpu_cores;
    memory_reserved += t.memory_bytes;
    if (t.gpu_uuid.empty()) continue;
    auto it = std::find_if(cap.gpus.begin(), cap.gpus.end(),
                           [&](const DeviceCapacity& d) { return d.uuid == t.gpu_uuid; });
    if (it == cap.gpus.end()) {
      cap.unmatched_reservations.push_back(t.task_id + " on " + t.gpu_uuid);
      continue;
    }
    it->task_reserved_bytes += t.gpu_memory_bytes;
  }
  for (auto& d : cap.gpus) {
    d.allocatable_bytes = Saturating(Saturating(d.probed_free_bytes, d.task_reserved_bytes),
                                     d.donation_reserve_bytes);
  }
  if (report.cpu) {
    cap.cpu_cores_probed = report.cpu->cores;
    cap.memory_available_probed = report.cpu->memory_available_bytes;
  }
  cap.cpu_cores_allocatable = static_cast<uint32_t>(
      Saturating(Saturating(cap.cpu_cores_probed, cores_reserved), reserve.cpu_cores));
  cap.memory_allocatable =
      Saturating(Saturating(cap.memory_available_probed, memory_reserved), reserve.memory_bytes);
  cap.conflicts = FindConflicts(report, hints);
  return cap;
}

void ApplyCapacity(const NodeCapacity& capacity, const AdvertisedHints& hints,
                   mesh::NodeRecord* record) {
  for (auto& g : record->gpus) {
    g.memory_allocatable_bytes = 0;
    for (const auto& d : capacity.gpus) {
      if (d.uuid == g.uuid) g.memory_allocatable_bytes = d.allocatable_bytes;
    }
  }
  for (const auto& [k, v] : hints.labels) record->labels[k] = v;
  record->gpu_inventory_source = "probed";
  record->gpu_truth_layer = "layer_b_allocatable";
}

}  // namespace populi::probe
