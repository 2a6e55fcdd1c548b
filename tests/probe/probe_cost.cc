// Measures the cost of a probe cycle and of a cached read on this machine (docs/probes.md).
// Usage: probe_cost [iterations]   (default 200)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "probe/cache.h"
#include "probe/probes.h"

namespace {

using populi::probe::ProbeOptions;
using Steady = std::chrono::steady_clock;

struct Stats {
  double median_us, p90_us, mean_us;
};

template <typename Fn>
Stats Measure(int iterations, Fn fn) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(iterations));
  for (int i = 0; i < iterations; ++i) {
    auto start = Steady::now();
    fn();
    us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  return {us[us.size() / 2], us[us.size() * 9 / 10], sum / static_cast<double>(us.size())};
}

void Print(const char* what, const Stats& s) {
  std::printf("%-44s median %10.1f us   p90 %10.1f us   mean %10.1f us\n", what, s.median_us,
              s.p90_us, s.mean_us);
}

populi::probe::ProbePipeline Pipeline(const ProbeOptions& options) {
  auto probes = populi::probe::MakeProbes(options);
  if (!probes.ok()) {
    std::fprintf(stderr, "%s\n", probes.status().ToString().c_str());
    std::exit(1);
  }
  return populi::probe::ProbePipeline(std::move(*probes), populi::SystemClock::Instance(), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 200;
  ProbeOptions defaults;  // hwloc, nvml, linux_drm, vulkan on this machine's real paths
  auto host = Pipeline(defaults);
  Print("cycle: default order, this machine", Measure(n, [&] { host.Run(); }));

  for (const char* name : {"hwloc", "nvml", "linux_drm", "vulkan"}) {
    ProbeOptions one;
    one.order = {name};
    auto p = Pipeline(one);
    std::string label = std::string("  probe ") + name + " alone";
    Print(label.c_str(), Measure(n, [&] { p.Run(); }));
  }

  ProbeOptions fakes;
  fakes.order = {"nvml", "vulkan"};
  fakes.nvml_library = FAKE_NVML_LIB;
  fakes.vulkan_library = FAKE_VULKAN_LIB;
  auto fake = Pipeline(fakes);
  Print("cycle: nvml + vulkan, fake libraries (dlopen)", Measure(n, [&] { fake.Run(); }));

  populi::probe::ProbeCache cache(Pipeline(defaults), populi::SystemClock::Instance(), 300);
  cache.Get();
  Print("cached read: ProbeCache::Get()", Measure(n * 100, [&] { cache.Get(); }));
  populi::mesh::NodeRecord record;
  Print("cached read: FillNodeHardware (reused record)",
        Measure(n * 100, [&] { cache.FillNodeHardware(&record); }));
  return 0;
}
