// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header that ties
// every hop of one piece of work into one trace, and `tracestate`, carried along untouched.
//
//   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
//                 2 hex      32 hex       16 hex        2 hex        (lowercase)
//
// Parsing follows the specification's rules for a receiver: version `ff` is invalid; version
// `00` is exactly 55 characters; a higher version may append fields after a `-`, which are
// ignored (the known fields are read as version 00); all-zero trace or parent ids are invalid.
// An invalid header is not an error for the request carrying it: the receiver starts a new trace.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace populi::obs {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

// One position in a trace: the trace, the span that is current here, the flags, and the
// vendor state to pass on. A default-constructed context is invalid (all-zero ids).
struct TraceContext {
  TraceId trace_id{};
  SpanId span_id{};
  uint8_t flags = 0;       // bit 0: sampled
  std::string tracestate;  // passed through untouched (bounded by kMaxTracestateBytes)

  bool valid() const;
  bool sampled() const { return (flags & 0x01) != 0; }
  std::string TraceIdHex() const;  // 32 lowercase hex
  std::string SpanIdHex() const;   // 16 lowercase hex
  // "00-<trace id>-<span id>-<flags>": what the next hop receives as its parent.
  std::string Traceparent() const;
};

// A tracestate longer than this is dropped rather than passed on (the specification lets a
// receiver discard a header it cannot hold whole; truncating list members would corrupt them).
inline constexpr size_t kMaxTracestateBytes = 512;

// The context `traceparent` names; kInvalidArgument (with what is wrong) when it is malformed.
// `tracestate` is kept as given when it fits kMaxTracestateBytes and the traceparent is valid.
Result<TraceContext> ParseTraceparent(std::string_view traceparent,
                                      std::string_view tracestate = {});

// A new trace: random trace and span ids, sampled.
TraceContext NewRootContext();
// A new span in the trace of `parent` (random span id, the parent's flags and tracestate); a new
// root when `parent` is invalid.
TraceContext ChildOf(const TraceContext& parent);

// Lowercase hex of 8 or 16 id bytes, and back (false when `hex` is not exactly that).
std::string ToHex(const uint8_t* bytes, size_t n);
bool FromHex(std::string_view hex, uint8_t* out, size_t n);

}  // namespace populi::obs
