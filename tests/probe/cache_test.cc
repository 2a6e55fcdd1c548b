// The probe cache: TTL on a ManualClock, Refresh, quick retry after a failure, and filling the
// node record from the cache without probing or allocating (MESH-048, MESH-186, MESH-187).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "probe/cache.h"

namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer the allocator's own hook counts every malloc (operator new included);
// replacing operator new would fight ASan's allocation-mismatch checks.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
void CountMalloc(const volatile void*, size_t) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
}
void IgnoreFree(const volatile void*) {}
[[maybe_unused]] const int g_hooks_installed =
    __sanitizer_install_malloc_and_free_hooks(CountMalloc, IgnoreFree);
}  // namespace
#else
// Counts every allocation of this test binary. GCC flags the malloc/free pair inside replacement
// operators as mismatched once they are inlined; that pairing is exactly what they are for.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#endif

namespace populi::probe {
namespace {

class ScriptedProbe final : public HardwareProbe {
 public:
  explicit ScriptedProbe(int* calls, bool* fail) : calls_(calls), fail_(fail) {}
  std::string_view name() const override { return "mock"; }
  bool applicable() const override { return true; }
  ProbeResult Probe() override {
    ++*calls_;
    if (*fail_) return ProbeResult::Failed("mock", "error", "boom", "fix it");
    mesh::GpuDevice g;
    g.name = "GPU with a name longer than any small-string buffer";
    g.uuid = "GPU-0123456789abcdef-0123456789abcdef";
    g.pci_bus_id = "0000:01:00.0";
    g.source = "mock";
    g.memory_total_bytes = 1 << 30;
    return ProbeResult::FoundGpus({g});
  }

 private:
  int* calls_;
  bool* fail_;
};

struct CacheFixture {
  int calls = 0;
  bool fail = false;
  ManualClock clock{1'000'000};
  ProbeCache cache;
  explicit CacheFixture(int64_t ttl_secs)
      : cache(MakePipeline(&calls, &fail, clock), clock, ttl_secs) {}
  static ProbePipeline MakePipeline(int* calls, bool* fail, const Clock& clock) {
    std::vector<std::unique_ptr<HardwareProbe>> probes;
    probes.push_back(std::make_unique<ScriptedProbe>(calls, fail));
    return ProbePipeline(std::move(probes), clock, nullptr);
  }
};

TEST(ProbeCache, ReusesTheReportUntilTheTtlPasses) {
  CacheFixture f(300);
  EXPECT_EQ(f.cache.Peek(), nullptr);
  auto first = f.cache.Get();
  EXPECT_EQ(f.calls, 1);
  f.clock.Advance(299'999);
  EXPECT_EQ(f.cache.Get(), first);
  EXPECT_EQ(f.calls, 1);
  EXPECT_FALSE(f.cache.Expired());
  f.clock.Advance(1);
  EXPECT_TRUE(f.cache.Expired());
  EXPECT_NE(f.cache.Get(), first);
  EXPECT_EQ(f.calls, 2);
  EXPECT_EQ(f.cache.cycles(), 2);
}

TEST(ProbeCache, RefreshProbesAtOnce) {
  CacheFixture f(300);
  f.cache.Get();
  f.cache.Refresh();
  EXPECT_EQ(f.calls, 2);
  f.cache.Get();
  EXPECT_EQ(f.calls, 2);
}

TEST(ProbeCache, ZeroTtlProbesOnEveryGet) {
  CacheFixture f(0);
  f.cache.Get();
  f.cache.Get();
  EXPECT_EQ(f.calls, 2);
}

TEST(ProbeCache, AFailedProbeIsRetriedWithinThirtySecondsNotAfterTheTtl) {
  CacheFixture f(300);
  f.fail = true;
  EXPECT_EQ(f.cache.Get()->failures.size(), 1u);
  f.fail = false;
  f.clock.Advance(kFailedProbeRetrySecs * 1000 - 1);
  EXPECT_EQ(f.cache.Get()->failures.size(), 1u);
  f.clock.Advance(1);
  auto report = f.cache.Get();
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(report->gpus.size(), 1u);
}

TEST(ProbeCache, FillNodeHardwareNeverProbesAndReusesTheRecordsStorage) {
  CacheFixture f(300);
  mesh::NodeRecord record;
  EXPECT_FALSE(f.cache.FillNodeHardware(&record));  // nothing cached: untouched, no probe
  EXPECT_EQ(f.calls, 0);
  f.cache.Get();
  ASSERT_TRUE(f.cache.FillNodeHardware(&record));
  ASSERT_EQ(record.gpus.size(), 1u);
  EXPECT_EQ(record.gpu_inventory_source, "probed");
  EXPECT_EQ(record.gpu_truth_layer, "layer_a_verified");

  // A heartbeat refills the same record: no allocation beyond what the record already holds.
  f.clock.Advance(1000);
  const int64_t before = g_allocations.load();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(f.cache.FillNodeHardware(&record));
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(f.calls, 1);
}

}  // namespace
}  // namespace populi::probe
