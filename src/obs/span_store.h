// The control plane's recent spans, by trace, for `vox populi trace` and GET
// /v1/populi/traces/{trace_id}. In memory and bounded: when more than `max_spans` are held, whole
// traces are evicted, least recently extended first, so a trace that is still growing (a running
// task) outlives a burst of one-span traces (heartbeats). Durable history is the OTLP
// collector's job (`forward`). One trace holds at most `max_spans_per_trace` (a long task's log
// reports would otherwise crowd out everything else); later spans of it are only forwarded and
// counted. Thread-safe.
//
// Spans are held in compact form (span_compact.h): one buffer per trace, written when a span is
// recorded and expanded back into Spans only by Trace(); `forward` gets the full Span. Buffers and
// map nodes come from the store's own pool, so the retained spans stay out of the process heap.
#pragma once

#include <cstdint>
#include <memory_resource>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "obs/span.h"

namespace populi::obs {

class SpanStore final : public SpanSink {
 public:
  // `forward` (may be null) also receives every recorded span, e.g. an OtlpExporter.
  explicit SpanStore(size_t max_spans, SpanSink* forward = nullptr,
                     size_t max_spans_per_trace = 2'000);
  ~SpanStore() override;
  SpanStore(const SpanStore&) = delete;
  SpanStore& operator=(const SpanStore&) = delete;

  void Record(Span span) override;
  // The spans of one trace, ordered by start time (equal starts in recording order); empty when
  // none are held.
  std::vector<Span> Trace(const TraceId& trace_id) const;

  struct Stats {
    size_t spans = 0;
    size_t traces = 0;
    uint64_t recorded = 0;
    uint64_t evicted_spans = 0;
    uint64_t over_trace_limit = 0;  // spans not kept because their trace was full
    size_t bytes = 0;               // the compact form of the spans held (span_compact.h)
  };
  Stats stats() const;

 private:
  // One trace: its spans in compact form (span_compact.h), one buffer for all of them, and its
  // place in the recency list. Map nodes never move, so the list links them by address: no
  // allocation of its own per trace.
  struct Held {
    explicit Held(std::pmr::memory_resource* pool) : bytes(pool) {}
    std::pmr::string bytes;
    uint32_t spans = 0;
    TraceId id{};
    Held* older = nullptr;
    Held* newer = nullptr;
  };
  struct IdHash {
    size_t operator()(const TraceId& id) const;
  };

  void Unlink(Held& held);
  void LinkNewest(Held& held);
  // Evicts least recently extended traces while more than max_spans_ are held.
  void EvictOverBound();

  const size_t max_spans_;
  const size_t max_per_trace_;
  SpanSink* const forward_;
  mutable std::mutex mu_;
  // Every trace's map node and buffer come from this pool (guarded by mu_), not the process heap:
  // tens of thousands of long-lived blocks there would fragment it for every other allocation.
  // The pool keeps what it has taken (bounded by max_spans_) for reuse.
  std::pmr::unsynchronized_pool_resource pool_;
  std::pmr::unordered_map<TraceId, Held, IdHash> traces_;
  Held* oldest_ = nullptr;  // the recency list: least recently extended first
  Held* newest_ = nullptr;
  size_t spans_ = 0;
  size_t bytes_ = 0;
  uint64_t recorded_ = 0;
  uint64_t evicted_ = 0;
  uint64_t over_trace_limit_ = 0;
};

// Spans waiting to be sent elsewhere (an agent's, sent to the control plane with its reports):
// at most `max_spans`, later ones dropped and counted. Thread-safe.
class SpanBuffer final : public SpanSink {
 public:
  explicit SpanBuffer(size_t max_spans = 4'096) : max_spans_(max_spans) {}
  void Record(Span span) override;
  // Everything buffered, oldest first; the buffer is empty afterwards.
  std::vector<Span> Take();
  uint64_t dropped() const;

 private:
  const size_t max_spans_;
  mutable std::mutex mu_;
  std::vector<Span> spans_;
  uint64_t dropped_ = 0;
};

}  // namespace populi::obs
