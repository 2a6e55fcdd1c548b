// Truncated and corrupt model headers: every prefix of a small GGUF and safetensors file, and
// every single-byte corruption of them, must end in a clean result or kInvalidArgument — never a
// crash (the sanitizers watch) and never a large allocation (counted here; this binary is on its
// own so that the count sees only these tests).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "models/model_fixtures.h"
#include "models/scan/byte_reader.h"
#include "models/scan/gguf.h"
#include "models/scan/safetensors.h"

namespace {
std::atomic<bool> g_watching{false};
std::atomic<size_t> g_largest{0};
void Note(size_t size) {
  if (!g_watching.load(std::memory_order_relaxed)) return;
  size_t seen = g_largest.load(std::memory_order_relaxed);
  while (size > seen && !g_largest.compare_exchange_weak(seen, size)) {
  }
}
}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer the allocator's hook sees every malloc (operator new included).
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
void NoteMalloc(const volatile void*, size_t size) {
  Note(size);
}
void IgnoreFreeHook(const volatile void*) {}
[[maybe_unused]] const int g_hooks =
    __sanitizer_install_malloc_and_free_hooks(NoteMalloc, IgnoreFreeHook);
}  // namespace
#else
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  Note(size);
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

namespace populi::models::scan {
namespace {

// Parses `bytes` with `parse`, returning the status and the largest allocation made meanwhile.
template <typename ParseFn>
std::pair<Status, size_t> Watch(const std::string& bytes, ParseFn parse) {
  g_largest = 0;
  g_watching = true;
  ByteReader in = ByteReader::FromMemory(bytes);
  Status s = parse(in);
  g_watching = false;
  return {s, g_largest.load()};
}

Status ParseGgufStatus(ByteReader& in) {
  return ParseGguf(in).status();
}
Status ParseSafetensorsStatus(ByteReader& in) {
  return ParseSafetensors(in).status();
}

// Enough for the parsers' own small strings and containers; far below any length in a file.
constexpr size_t kAllocationBound = 64 * 1024;

TEST(HostileHeaders, TheCountSeesAnAllocation) {
  auto [s, largest] = Watch("", [](ByteReader&) {
    std::vector<char> big(1 << 20);
    return big.data() != nullptr ? Status::Ok() : Internal("none", "none");
  });
  EXPECT_TRUE(s.ok());
  EXPECT_GE(largest, size_t{1} << 20);
}

TEST(HostileHeaders, EveryGgufPrefixIsRefusedCleanly) {
  // The header alone (the parser reads nothing past the last tensor info).
  const std::string full = testing::TinyLlamaGguf().Build(false);
  ASSERT_TRUE(Watch(full, ParseGgufStatus).first.ok());
  ASSERT_GT(full.size(), 400u);
  for (size_t n = 0; n < full.size(); ++n) {
    auto [s, largest] = Watch(full.substr(0, n), ParseGgufStatus);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << n;
    EXPECT_LT(largest, kAllocationBound) << n;
  }
}

TEST(HostileHeaders, EveryGgufByteCorruptedEndsCleanly) {
  const std::string full = testing::TinyLlamaGguf().Build(false);
  int refused = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (unsigned char v : {0x00, 0x7f, 0xff}) {
      std::string bad = full;
      bad[i] = static_cast<char>(v);
      auto [s, largest] = Watch(bad, ParseGgufStatus);
      if (!s.ok()) {
        ++refused;
        EXPECT_EQ(s.code(), Code::kInvalidArgument) << i;
      }
      EXPECT_LT(largest, kAllocationBound) << "byte " << i << " = " << int(v);
    }
  }
  EXPECT_GT(refused, 100);
}

TEST(HostileHeaders, EverySafetensorsPrefixAndCorruptionEndsCleanly) {
  const std::string full = testing::Safetensors(
      {{"a.weight", "BF16", {8, 4}}, {"b.bias", "F32", {4}}, {"c", "I8", {3, 3}}});
  ASSERT_TRUE(Watch(full, ParseSafetensorsStatus).first.ok());
  for (size_t n = 0; n < full.size(); ++n) {
    auto [s, largest] = Watch(full.substr(0, n), ParseSafetensorsStatus);
    // Any cut loses either header bytes or data that data_offsets point into.
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << n;
    EXPECT_LE(largest, std::max<size_t>(kAllocationBound, 4 * full.size())) << n;
  }
  for (size_t i = 0; i < full.size(); ++i) {
    for (unsigned char v : {0x00, 0x7f, 0xff}) {
      std::string bad = full;
      bad[i] = static_cast<char>(v);
      auto [s, largest] = Watch(bad, ParseSafetensorsStatus);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), Code::kInvalidArgument) << i;
      }
      EXPECT_LE(largest, std::max<size_t>(kAllocationBound, 4 * full.size())) << i;
    }
  }
}

TEST(HostileHeaders, AHugeSafetensorsHeaderLengthAllocatesNothing) {
  std::string bytes;
  testing::AppendLe<uint64_t>(bytes, uint64_t{1} << 62);
  bytes += "{}";
  auto [s, largest] = Watch(bytes, ParseSafetensorsStatus);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("does not fit"), std::string::npos) << s.message();
  EXPECT_LT(largest, kAllocationBound);
}

}  // namespace
}  // namespace populi::models::scan
