// `vox populi probe`: what this node thinks it has, with every probe's outcome, duration and
// remediation hint. The report is kept in <data dir>/probe-cache.json (the options it was made
// with in probe-cache.options) and reused until mesh.probe.cache_ttl_secs passes (or the options
// change); --refresh probes now.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>

#include "cli/verb.h"
#include "config/config.h"
#include "mesh/json.h"
#include "probe/config_options.h"
#include "probe/pipeline.h"
#include "probe/probes.h"
#include "probe/report_json.h"
#include "util/clock.h"

namespace populi::cli {
namespace {

struct ProbeFlags {
  bool refresh = false;
  std::string fixture;
  std::string sysfs_root;
  std::string order;
  std::string nvml_library;
  std::string vulkan_library;
};

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Everything that changes what a probe cycle would see; a cached report made with other options
// is not reused.
std::string Fingerprint(const probe::ProbeOptions& o) {
  std::string f;
  for (const auto& name : o.order) f += name + ",";
  return f + "|" + o.sysfs_root + "|" + o.mock_fixture + "|" + o.nvml_library + "|" +
         o.vulkan_library;
}

std::string GiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f GiB",
                static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

void PrintTable(const probe::ProbeReport& r, int64_t age_ms, int64_t ttl_secs, std::ostream& out) {
  if (r.cpu) {
    const auto& c = *r.cpu;
    out << "CPU  " << c.model << ": " << c.cores << " cores / " << c.threads << " threads, "
        << c.numa_nodes << " NUMA node" << (c.numa_nodes == 1 ? "" : "s") << ", "
        << GiB(c.memory_total_bytes) << " RAM (" << GiB(c.memory_available_bytes)
        << " available)\n";
  } else {
    out << "CPU  unknown (no CPU probe ran)\n";
  }
  out << "\n";
  if (r.gpus.empty()) {
    out << "GPUs none found" << (r.failures.empty() ? "" : " (see the failed probes below)")
        << "\n";
  } else {
    out << Pad("#", 3) << Pad("GPU", 28) << Pad("VENDOR", 8) << Pad("PCI BUS", 14)
        << Pad("TOTAL", 11) << Pad("FREE", 11) << "SEEN BY\n";
    for (size_t i = 0; i < r.gpus.size(); ++i) {
      const auto& g = r.gpus[i];
      std::string by;
      for (const auto& s : g.confirmed_by) by += (by.empty() ? "" : "+") + s;
      out << Pad(std::to_string(i), 3) << Pad(g.name, 28) << Pad(g.vendor, 8)
          << Pad(g.pci_bus_id.empty() ? "-" : g.pci_bus_id, 14)
          << Pad(GiB(g.memory_total_bytes), 11) << Pad(GiB(g.memory_free_bytes), 11) << by << "\n";
    }
  }
  out << "\n" << Pad("PROBE", 11) << Pad("OUTCOME", 16) << Pad("MS", 9) << "DETAIL\n";
  for (const auto& a : r.attempts) {
    char ms[16];
    std::snprintf(ms, sizeof(ms), "%.2f", a.duration_ms);
    std::string detail = a.error.empty() ? a.detail : a.error;
    if (a.outcome == probe::ProbeOutcome::kFound) {
      detail = a.gpus_found > 0 ? std::to_string(a.gpus_found) + " GPU(s)" : "cpu";
    }
    out << Pad(a.probe, 11) << Pad(std::string(probe::ToString(a.outcome)), 16) << Pad(ms, 9)
        << detail << "\n";
    for (const auto& f : r.failures) {
      if (f.probe == a.probe) out << Pad("", 36) << "hint: " << f.hint << "\n";
    }
  }
  out << "\nprobed " << (age_ms / 1000) << "s ago in ";
  char total[16];
  std::snprintf(total, sizeof(total), "%.2f", r.duration_ms);
  out << total << " ms (cache ttl " << ttl_secs << " s; --refresh probes now)\n";
}

// The cache is two files: `path` holds the report as probe::ReportToJson writes it, and
// `path`.options the fingerprint of the options that made it. The fingerprint is written last
// and removed first, so a report is never reused for options it was not made with.
std::string OptionsPath(const std::string& path) {
  return path.substr(0, path.rfind('.')) + ".options";
}

std::string ReadCacheFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The cached report when it was made with `fingerprint`; nothing when there is none, it was made
// with other options or it cannot be read (it is rewritten then).
std::optional<probe::ProbeReport> ReadCache(const std::string& path,
                                            const std::string& fingerprint) {
  if (ReadCacheFile(OptionsPath(path)) != fingerprint) return std::nullopt;
  auto doc = mesh::ParseJson(ReadCacheFile(path), 64);
  if (!doc.ok()) return std::nullopt;
  auto parsed = probe::ReportFromJson(*doc);
  if (!parsed.ok()) return std::nullopt;
  return std::move(*parsed);
}

// Writes `text` to `path` through a temporary file and a rename; false when it could not.
bool WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

void WriteCache(const std::string& path, const std::string& fingerprint,
                const probe::ProbeReport& report) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::filesystem::remove(OptionsPath(path), ec);
  // A read-only data dir only costs the cache.
  if (!WriteFileAtomically(path, mesh::Serialize(probe::ReportToJson(report)) + "\n")) return;
  (void)WriteFileAtomically(OptionsPath(path), fingerprint);
}

int RunProbe(const ProbeFlags& flags, Context& ctx) {
  auto cfg = config::Load();
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  probe::ProbeOptions options = probe::ProbeOptionsFromConfig(*cfg);
  if (!flags.fixture.empty()) {
    options.mock_fixture = flags.fixture;
    options.order = {"mock"};
  }
  if (!flags.order.empty()) options.order = SplitList(flags.order);
  if (!flags.sysfs_root.empty()) options.sysfs_root = flags.sysfs_root;
  if (!flags.nvml_library.empty()) options.nvml_library = flags.nvml_library;
  if (!flags.vulkan_library.empty()) options.vulkan_library = flags.vulkan_library;
  auto probes = probe::MakeProbes(options);
  if (!probes.ok()) {
    ctx.Fail(probes.status());
    return ctx.exit_code = kExitUsage;
  }

  const Clock& clock = SystemClock::Instance();
  const std::string cache_path = cfg->data_dir() + "/probe-cache.json";
  const std::string fingerprint = Fingerprint(options);
  std::optional<probe::ProbeReport> report;
  if (!flags.refresh) {
    auto cached = ReadCache(cache_path, fingerprint);
    if (cached && clock.NowMs() - cached->probed_at_ms < options.cache_ttl_secs * 1000 &&
        cached->probed_at_ms <= clock.NowMs()) {
      report = std::move(*cached);
    }
  }
  if (!report) {
    probe::ProbePipeline pipeline(std::move(*probes), clock, nullptr);
    report = pipeline.Run();
    WriteCache(cache_path, fingerprint, *report);
  }
  if (ctx.global.json) {
    boost::json::object o = probe::ReportToJson(*report);
    o["cache_ttl_secs"] = options.cache_ttl_secs;
    o["summary"] = probe::SummaryLine(*report);
    *ctx.out << boost::json::serialize(o) << "\n";
  } else {
    PrintTable(*report, clock.NowMs() - report->probed_at_ms, options.cache_ttl_secs, *ctx.out);
  }
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddProbeVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<ProbeFlags>();
  auto* verb = populi.add_subcommand(
      "probe", "Show the hardware this node reports: CPU, GPUs, and every probe's outcome");
  verb->footer(
      "Examples:\n  vox populi probe\n  vox populi probe --refresh --json\n"
      "  vox populi probe --fixture gpus.json   (demo: devices from a JSON fixture)");
  verb->add_flag("--json", ctx.global.json, "Machine-readable JSON: the full report");
  verb->add_flag("--refresh", flags->refresh, "Probe now instead of reusing the cached report");
  verb->add_option("--fixture", flags->fixture,
                   "Use the mock probe with this JSON fixture (docs/probes.md)");
  verb->add_option("--sysfs-root", flags->sysfs_root,
                   "Root under which linux_drm reads sys/ and proc/ (default /)");
  verb->add_option("--order", flags->order,
                   "Probes to run, comma-separated (default: mesh.probe.order)");
  verb->add_option("--nvml-library", flags->nvml_library,
                   "NVML library to dlopen (default libnvidia-ml.so.1)");
  verb->add_option("--vulkan-library", flags->vulkan_library,
                   "Vulkan loader to dlopen (default libvulkan.so.1)");
  verb->callback([flags, &ctx] { RunProbe(*flags, ctx); });
}

}  // namespace populi::cli
