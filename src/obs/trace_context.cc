#include "obs/trace_context.h"

#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace populi::obs {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is not valid in a traceparent
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

// Ids need to be unique and unpredictable enough to never collide, not secret: a per-thread
// generator seeded from the kernel once, rather than a system call per span.
uint64_t NextRandom() {
  thread_local std::mt19937_64 generator = [] {
    std::array<uint64_t, 4> seed{};
    size_t got = 0;
    auto* bytes = reinterpret_cast<uint8_t*>(seed.data());
    while (got < sizeof(seed)) {
      const ssize_t n = ::getrandom(bytes + got, sizeof(seed) - got, 0);
      if (n > 0) got += static_cast<size_t>(n);
    }
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  return generator();
}

template <size_t N>
void FillRandomNonZero(std::array<uint8_t, N>& a) {
  do {
    for (size_t i = 0; i < N; i += 8) {
      const uint64_t r = NextRandom();
      std::memcpy(a.data() + i, &r, std::min<size_t>(8, N - i));
    }
  } while (AllZero(a));
}

Status Malformed(std::string what) {
  return InvalidArgument("traceparent " + what,
                         "send 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>, lowercase");
}

}  // namespace

std::string ToHex(const uint8_t* bytes, size_t n) {
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
  }
  return out;
}

bool FromHex(std::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool TraceContext::valid() const {
  return !AllZero(trace_id) && !AllZero(span_id);
}
std::string TraceContext::TraceIdHex() const {
  return ToHex(trace_id.data(), trace_id.size());
}
std::string TraceContext::SpanIdHex() const {
  return ToHex(span_id.data(), span_id.size());
}

std::string TraceContext::Traceparent() const {
  return "00-" + TraceIdHex() + "-" + SpanIdHex() + "-" + ToHex(&flags, 1);
}

Result<TraceContext> ParseTraceparent(std::string_view v, std::string_view tracestate) {
  if (v.size() < 55) return Malformed("is shorter than 55 characters");
  uint8_t version = 0;
  if (!FromHex(v.substr(0, 2), &version, 1)) return Malformed("version is not 2 lowercase hex");
  if (version == 0xff) return Malformed("version ff is invalid");
  if (version == 0 && v.size() != 55) return Malformed("of version 00 is not 55 characters");
  if (version != 0 && v.size() > 55 && v[55] != '-') {
    return Malformed("of a later version continues without a '-' after the flags");
  }
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return Malformed("has misplaced '-'");
  TraceContext ctx;
  if (!FromHex(v.substr(3, 32), ctx.trace_id.data(), ctx.trace_id.size())) {
    return Malformed("trace id is not 32 lowercase hex");
  }
  if (!FromHex(v.substr(36, 16), ctx.span_id.data(), ctx.span_id.size())) {
    return Malformed("parent id is not 16 lowercase hex");
  }
  if (!FromHex(v.substr(53, 2), &ctx.flags, 1)) return Malformed("flags are not 2 lowercase hex");
  if (AllZero(ctx.trace_id)) return Malformed("trace id is all zeros");
  if (AllZero(ctx.span_id)) return Malformed("parent id is all zeros");
  if (tracestate.size() <= kMaxTracestateBytes) ctx.tracestate = std::string(tracestate);
  return ctx;
}

TraceContext NewRootContext() {
  TraceContext ctx;
  FillRandomNonZero(ctx.trace_id);
  FillRandomNonZero(ctx.span_id);
  ctx.flags = 0x01;
  return ctx;
}

TraceContext ChildOf(const TraceContext& parent) {
  if (!parent.valid()) return NewRootContext();
  TraceContext ctx = parent;
  FillRandomNonZero(ctx.span_id);
  return ctx;
}

}  // namespace populi::obs
