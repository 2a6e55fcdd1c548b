#include "obs/span_store.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "obs/span_compact.h"

namespace populi::obs {

size_t SpanStore::IdHash::operator()(const TraceId& id) const {
  uint64_t v = 0;
  std::memcpy(&v, id.data(), sizeof(v));  // trace ids are random: any 8 bytes hash well
  return static_cast<size_t>(v);
}

namespace {

// Pools for blocks up to 16 KiB (a trace of up to about 50 server spans); larger buffers, a long
// task's trace, come from the heap through the pool.
std::pmr::pool_options PoolOptions() {
  std::pmr::pool_options o;
  o.largest_required_pool_block = 16 * 1024;
  return o;
}

}  // namespace

SpanStore::SpanStore(size_t max_spans, SpanSink* forward, size_t max_spans_per_trace)
    : max_spans_(std::max<size_t>(max_spans, 1)),
      max_per_trace_(std::clamp<size_t>(max_spans_per_trace, 1, max_spans_)),
      forward_(forward),
      pool_(PoolOptions()),
      traces_(&pool_) {
  // Most traces are short, so the table nears one entry per span: sized once (capped, so a huge
  // retention does not reserve memory it may never use) instead of rehashing as it fills.
  traces_.reserve(std::min<size_t>(max_spans_, 65'536));
}

SpanStore::~SpanStore() = default;

void SpanStore::Unlink(Held& held) {
  (held.older != nullptr ? held.older->newer : oldest_) = held.newer;
  (held.newer != nullptr ? held.newer->older : newest_) = held.older;
  held.older = held.newer = nullptr;
}

void SpanStore::LinkNewest(Held& held) {
  held.older = newest_;
  held.newer = nullptr;
  (newest_ != nullptr ? newest_->newer : oldest_) = &held;
  newest_ = &held;
}

void SpanStore::EvictOverBound() {
  while (spans_ > max_spans_ && oldest_ != nullptr) {
    Held& gone = *oldest_;
    Unlink(gone);
    spans_ -= gone.spans;
    bytes_ -= gone.bytes.size();
    evicted_ += gone.spans;
    traces_.erase(gone.id);  // back to the pool: a free-list push, cheap under the lock
  }
}

void SpanStore::Record(Span span) {
  // Encoded before the lock into this thread's buffer (no allocation once it has grown), then
  // copied into the trace's buffer in the pool.
  thread_local std::string encoded;
  encoded.clear();
  AppendCompactSpan(span, encoded);
  const TraceId trace_id = span.trace_id;
  if (forward_ != nullptr) forward_->Record(std::move(span));
  std::lock_guard lock(mu_);
  ++recorded_;
  auto [it, inserted] = traces_.try_emplace(trace_id, &pool_);
  Held& held = it->second;
  if (inserted) {
    held.id = trace_id;
  } else {
    Unlink(held);
  }
  LinkNewest(held);
  if (held.spans >= max_per_trace_) {
    ++over_trace_limit_;
    return;
  }
  held.bytes.append(encoded);
  ++held.spans;
  ++spans_;
  bytes_ += encoded.size();
  EvictOverBound();
}

std::vector<Span> SpanStore::Trace(const TraceId& trace_id) const {
  std::string bytes;
  size_t count = 0;
  {
    std::lock_guard lock(mu_);
    auto it = traces_.find(trace_id);
    if (it == traces_.end()) return {};
    bytes.assign(it->second.bytes);  // one copy; expanded after the lock is released
    count = it->second.spans;
  }
  std::vector<Span> out;
  out.reserve(count);
  // The store wrote every byte, so this cannot fail short of a bug; what was read is returned.
  (void)ExpandCompactSpans(bytes, out);
  std::stable_sort(out.begin(), out.end(),
                   [](const Span& a, const Span& b) { return a.start_unix_ns < b.start_unix_ns; });
  return out;
}

SpanStore::Stats SpanStore::stats() const {
  std::lock_guard lock(mu_);
  return {spans_, traces_.size(), recorded_, evicted_, over_trace_limit_, bytes_};
}

void SpanBuffer::Record(Span span) {
  std::lock_guard lock(mu_);
  if (spans_.size() >= max_spans_) {
    ++dropped_;
    return;
  }
  spans_.push_back(std::move(span));
}

std::vector<Span> SpanBuffer::Take() {
  std::lock_guard lock(mu_);
  std::vector<Span> out;
  out.swap(spans_);
  return out;
}

uint64_t SpanBuffer::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace populi::obs
