#include "obs/span_store.h"

#include <algorithm>
#include <cstring>

namespace populi::obs {

size_t SpanStore::IdHash::operator()(const TraceId& id) const {
  uint64_t v = 0;
  std::memcpy(&v, id.data(), sizeof(v));  // trace ids are random: any 8 bytes hash well
  return static_cast<size_t>(v);
}

SpanStore::SpanStore(size_t max_spans, SpanSink* forward, size_t max_spans_per_trace)
    : max_spans_(std::max<size_t>(max_spans, 1)),
      max_per_trace_(std::clamp<size_t>(max_spans_per_trace, 1, max_spans_)),
      forward_(forward) {
  // Most traces are short, so the table nears one entry per span: sized once (capped, so a huge
  // retention does not reserve memory it may never use) instead of rehashing as it fills.
  traces_.reserve(std::min<size_t>(max_spans_, 65'536));
}

void SpanStore::Record(Span span) {
  if (forward_ != nullptr) forward_->Record(span);
  std::vector<Held> evicted;  // destroyed after the lock is released: freeing spans takes time
  {
    std::lock_guard lock(mu_);
    ++recorded_;
    auto [it, inserted] = traces_.try_emplace(span.trace_id);
    if (inserted) {
      it->second.in_order = recency_.insert(recency_.end(), span.trace_id);
    } else {
      recency_.splice(recency_.end(), recency_, it->second.in_order);
    }
    if (it->second.spans.size() >= max_per_trace_) {
      ++over_trace_limit_;
      return;
    }
    it->second.spans.push_back(std::move(span));
    ++spans_;
    while (spans_ > max_spans_ && !recency_.empty()) {
      auto oldest = traces_.find(recency_.front());
      recency_.pop_front();
      if (oldest == traces_.end()) continue;
      spans_ -= oldest->second.spans.size();
      evicted_ += oldest->second.spans.size();
      evicted.push_back(std::move(oldest->second));
      traces_.erase(oldest);
    }
  }
}

std::vector<Span> SpanStore::Trace(const TraceId& trace_id) const {
  std::vector<Span> out;
  {
    std::lock_guard lock(mu_);
    auto it = traces_.find(trace_id);
    if (it != traces_.end()) out = it->second.spans;
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Span& a, const Span& b) { return a.start_unix_ns < b.start_unix_ns; });
  return out;
}

SpanStore::Stats SpanStore::stats() const {
  std::lock_guard lock(mu_);
  return {spans_, traces_.size(), recorded_, evicted_, over_trace_limit_};
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
