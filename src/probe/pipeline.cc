#include "probe/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "obs/metrics.h"
#include "probe/sysfs.h"

namespace populi::probe {
namespace {

// Every probe run lands in the process's metric registry (docs/metrics.md): the node agent, and
// the local worker inside `vox populi serve`, whose GET /metrics then shows them.
void RecordAttemptMetrics(const ProbeAttempt& a) {
  static obs::HistogramFamily& duration = obs::Registry::Default().Histograms(
      "populi_probe_duration_seconds", "Wall time of one hardware probe run, per probe.", {"probe"},
      obs::LatencyBuckets(), 32);
  static obs::CounterFamily& runs = obs::Registry::Default().Counters(
      "populi_probe_runs_total",
      "Hardware probe runs by probe and outcome (found, no_device, not_applicable, failed).",
      {"probe", "outcome"}, 128);
  duration.With({a.probe}).Observe(a.duration_ms / 1000.0);
  runs.With({a.probe, ToString(a.outcome)}).Inc();
}

}  // namespace

void LogAttempt(const ProbeAttempt& a) {
  if (a.outcome == ProbeOutcome::kFailed) {
    spdlog::warn("probe attempt vox.mesh.probe.name={} outcome={} duration_ms={:.3f} error=\"{}\"",
                 a.probe, ToString(a.outcome), a.duration_ms, a.error);
  } else {
    spdlog::info("probe attempt vox.mesh.probe.name={} outcome={} duration_ms={:.3f} error=\"\"",
                 a.probe, ToString(a.outcome), a.duration_ms);
  }
}

ProbePipeline::ProbePipeline(std::vector<std::unique_ptr<HardwareProbe>> probes, const Clock& clock,
                             AttemptSink sink)
    : probes_(std::move(probes)), clock_(&clock), sink_(std::move(sink)) {}

ProbeReport ProbePipeline::Run() {
  using Steady = std::chrono::steady_clock;
  auto ms_since = [](Steady::time_point start) {
    return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
  };
  ProbeReport report;
  report.probed_at_ms = clock_->NowMs();
  const auto cycle_start = Steady::now();
  std::vector<std::vector<mesh::GpuDevice>> found;
  for (auto& probe : probes_) {
    ProbeAttempt attempt;
    attempt.probe = std::string(probe->name());
    const auto start = Steady::now();
    ProbeResult result = probe->applicable()
                             ? probe->Probe()
                             : ProbeResult::NotApplicable("not available on this OS");
    attempt.duration_ms = ms_since(start);
    attempt.outcome = result.outcome;
    attempt.gpus_found = result.gpus.size();
    switch (result.outcome) {
      case ProbeOutcome::kFailed:
        attempt.error = result.failure.message;
        if (result.failure.probe.empty()) result.failure.probe = attempt.probe;
        report.failures.push_back(std::move(result.failure));
        break;
      case ProbeOutcome::kFound:
        if (result.cpu && !report.cpu) report.cpu = std::move(result.cpu);
        if (!result.gpus.empty()) found.push_back(std::move(result.gpus));
        break;
      default:
        attempt.detail = std::move(result.detail);
        break;
    }
    if (sink_) sink_(attempt);
    RecordAttemptMetrics(attempt);
    report.attempts.push_back(std::move(attempt));
  }
  report.gpus = MergeGpus(found);
  report.duration_ms = ms_since(cycle_start);
  return report;
}

// ---- merge ----

namespace {

// Which source to trust for a device's identity (name, uuid) and for its memory figures.
// NVML talks to the driver; linux_drm reads what the kernel driver exports (device-wide VRAM
// use); Vulkan's budget is a per-process view; mock is for tests.
int IdentityRank(const std::string& source) {
  if (source == "nvml") return 4;
  if (source == "vulkan") return 3;
  if (source == "linux_drm") return 2;
  if (source == "mock") return 1;
  return 0;
}
int MemoryRank(const std::string& source) {
  if (source == "nvml") return 4;
  if (source == "linux_drm") return 3;
  if (source == "vulkan") return 2;
  if (source == "mock") return 1;
  return 0;
}

struct MergedDevice {
  mesh::GpuDevice gpu;
  int identity_rank = -1;
  int memory_rank = -1;
  int driver_rank = -1;
};

void Absorb(MergedDevice& into, const mesh::GpuDevice& from) {
  const int id_rank = IdentityRank(from.source);
  const int mem_rank = MemoryRank(from.source);
  mesh::GpuDevice& g = into.gpu;
  if (id_rank > into.identity_rank) {
    if (!from.name.empty()) g.name = from.name;
    if (!from.uuid.empty()) g.uuid = from.uuid;
    g.source = from.source;
    into.identity_rank = id_rank;
  }
  if (from.memory_total_bytes > 0 && (g.memory_total_bytes == 0 || mem_rank > into.memory_rank)) {
    g.memory_total_bytes = from.memory_total_bytes;
    g.memory_used_bytes = from.memory_used_bytes;
    g.memory_free_bytes = from.memory_free_bytes;
    into.memory_rank = mem_rank;
  }
  if ((g.vendor.empty() || g.vendor == "unknown") && !from.vendor.empty()) g.vendor = from.vendor;
  if (g.pci_bus_id.empty()) g.pci_bus_id = from.pci_bus_id;
  if (!g.utilization_pct) g.utilization_pct = from.utilization_pct;
  if (!g.temperature_c) g.temperature_c = from.temperature_c;
  if (!from.driver_version.empty() && id_rank > into.driver_rank) {
    g.driver_version = from.driver_version;
    into.driver_rank = id_rank;
  }
  if (g.cuda_driver_version.empty()) g.cuda_driver_version = from.cuda_driver_version;
  g.mig_enabled = g.mig_enabled || from.mig_enabled;
  if (std::find(g.confirmed_by.begin(), g.confirmed_by.end(), from.source) ==
      g.confirmed_by.end()) {
    g.confirmed_by.push_back(from.source);
  }
}

}  // namespace

std::vector<mesh::GpuDevice> MergeGpus(const std::vector<std::vector<mesh::GpuDevice>>& found) {
  // Visit sources from most to least authoritative so the outcome is independent of the
  // pipeline order.
  std::vector<const mesh::GpuDevice*> all;
  for (const auto& list : found) {
    for (const auto& gpu : list) all.push_back(&gpu);
  }
  std::stable_sort(all.begin(), all.end(), [](const mesh::GpuDevice* a, const mesh::GpuDevice* b) {
    return IdentityRank(a->source) > IdentityRank(b->source);
  });

  std::vector<MergedDevice> merged;
  std::vector<const mesh::GpuDevice*> without_bus;
  for (const mesh::GpuDevice* gpu : all) {
    const std::string bus = internal::NormalizePciBusId(gpu->pci_bus_id);
    if (bus.empty()) {
      without_bus.push_back(gpu);
      continue;
    }
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const MergedDevice& m) { return m.gpu.pci_bus_id == bus; });
    if (it == merged.end()) {
      merged.emplace_back();
      it = merged.end() - 1;
      it->gpu.pci_bus_id = bus;
    }
    Absorb(*it, *gpu);
  }
  // A device without a bus id cannot be matched for sure. It joins the only same-vendor device
  // its probe has not matched yet; if other probes saw that vendor but the match is ambiguous
  // it is dropped (never double counted); if no probe saw that vendor it is a new device.
  std::vector<std::pair<std::string, size_t>> used;  // (source, merged index)
  for (const mesh::GpuDevice* gpu : without_bus) {
    std::vector<size_t> candidates;
    bool vendor_seen = false;
    for (size_t i = 0; i < merged.size(); ++i) {
      if (merged[i].gpu.vendor != gpu->vendor) continue;
      vendor_seen = true;
      const auto& by = merged[i].gpu.confirmed_by;
      bool source_already =
          std::find(by.begin(), by.end(), gpu->source) != by.end() ||
          std::find(used.begin(), used.end(), std::make_pair(gpu->source, i)) != used.end();
      if (!source_already) candidates.push_back(i);
    }
    if (candidates.size() == 1) {
      used.emplace_back(gpu->source, candidates[0]);
      Absorb(merged[candidates[0]], *gpu);
    } else if (!vendor_seen) {
      merged.emplace_back();
      Absorb(merged.back(), *gpu);
      used.emplace_back(gpu->source, merged.size() - 1);
    }
  }

  std::vector<mesh::GpuDevice> out;
  out.reserve(merged.size());
  for (auto& m : merged) out.push_back(std::move(m.gpu));
  std::stable_sort(out.begin(), out.end(), [](const mesh::GpuDevice& a, const mesh::GpuDevice& b) {
    if (a.pci_bus_id.empty() != b.pci_bus_id.empty()) return b.pci_bus_id.empty();
    if (a.pci_bus_id != b.pci_bus_id) return a.pci_bus_id < b.pci_bus_id;
    return a.uuid < b.uuid;
  });
  return out;
}

// ---- summary ----

namespace {

std::string GiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1fGiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

}  // namespace

std::string SummaryLine(const ProbeReport& report) {
  std::string line = "hardware:";
  if (report.cpu) {
    const auto& c = *report.cpu;
    line += " cpu=\"" + c.model + "\" cores=" + std::to_string(c.cores) +
            " threads=" + std::to_string(c.threads) + " numa=" + std::to_string(c.numa_nodes) +
            " mem=" + GiB(c.memory_total_bytes) + " (" + GiB(c.memory_available_bytes) +
            " available)";
  } else {
    line += " cpu=unknown";
  }
  line += " gpus=" + std::to_string(report.gpus.size());
  if (!report.gpus.empty()) {
    line += " [";
    for (size_t i = 0; i < report.gpus.size(); ++i) {
      const auto& g = report.gpus[i];
      if (i > 0) line += ", ";
      line += g.name + " " + GiB(g.memory_total_bytes) + " (" + GiB(g.memory_free_bytes) +
              " free) via ";
      for (size_t j = 0; j < g.confirmed_by.size(); ++j) {
        line += (j > 0 ? "+" : "") + g.confirmed_by[j];
      }
    }
    line += "]";
  }
  line += " failures=";
  if (report.failures.empty()) line += "none";
  for (size_t i = 0; i < report.failures.size(); ++i) {
    line += (i > 0 ? "," : "") + report.failures[i].probe + ":" + report.failures[i].kind;
  }
  return line;
}

void LogSummary(const ProbeReport& report, spdlog::logger& logger) {
  if (report.failures.empty()) {
    logger.info("{}", SummaryLine(report));
  } else {
    logger.warn("{}", SummaryLine(report));
  }
}

}  // namespace populi::probe
