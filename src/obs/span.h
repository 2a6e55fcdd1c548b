// Spans: one timed operation in a trace (a request served, a task placed, a task run), with
// bounded attributes. A span is recorded once, when it ends, into a SpanSink: the control plane's
// SpanStore (kept in memory for `vox populi trace`, forwarded to OTLP), or an agent's batch that
// is sent to the control plane with its reports.
//
// Bounds: names and attribute values are cut at kMaxAttributeBytes, at most kMaxAttributes per
// span (later ones are dropped and counted in `dropped_attributes`). Payloads, tokens and secrets
// are never attributes: callers record ids, sizes, counts and outcomes only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "obs/trace_context.h"

namespace populi::obs {

// OTLP's SpanKind numbers.
enum class SpanKind : int { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
std::string_view ToString(SpanKind kind);

inline constexpr size_t kMaxAttributes = 32;
inline constexpr size_t kMaxAttributeBytes = 256;
// Distinct attribute keys the process keeps (InternAttributeKey); an attribute under a key beyond
// them is dropped and counted like one over kMaxAttributes.
inline constexpr size_t kMaxAttributeKeys = 4'096;

using AttributeValue = std::variant<std::string, int64_t, double, bool>;
// `key` is interned (InternAttributeKey): it stays valid for the life of the process, and a span
// holds no copy of it. Keys are a small vocabulary repeated on every span.
struct SpanAttribute {
  std::string_view key;
  AttributeValue value;
};

// The process's one copy of `key` (cut at kMaxAttributeBytes); empty when kMaxAttributeKeys
// distinct keys are already kept and `key` is not among them. Thread-safe; a key seen before on
// this thread is found without a lock.
std::string_view InternAttributeKey(std::string_view key);

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};  // all zero: a root (or its parent was never recorded here)
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  bool error = false;
  std::string status_message;  // set with error
  std::string service;         // "vox-control-plane" or "vox-agent"
  std::string node_id;         // the recording agent's node; empty on the control plane
  std::vector<SpanAttribute> attributes;
  uint32_t dropped_attributes = 0;

  // Adds (or replaces) an attribute within the bounds above. Integers are stored as int64,
  // floating point as double, anything string-like as a string.
  Span& SetValue(std::string_view key, AttributeValue value);
  template <typename V>
  Span& Set(std::string_view key, V&& value) {
    using T = std::decay_t<V>;
    if constexpr (std::is_same_v<T, bool>) {
      return SetValue(key, AttributeValue(value));
    } else if constexpr (std::is_integral_v<T>) {
      return SetValue(key, AttributeValue(static_cast<int64_t>(value)));
    } else if constexpr (std::is_floating_point_v<T>) {
      return SetValue(key, AttributeValue(static_cast<double>(value)));
    } else if constexpr (std::is_same_v<T, std::string> && !std::is_lvalue_reference_v<V>) {
      return SetValue(key, AttributeValue(std::move(value)));  // a temporary: moved, not copied
    } else {
      return SetValue(key, AttributeValue(std::string(value)));
    }
  }
  const AttributeValue* Find(std::string_view key) const;
  bool has_parent() const;
};

// Receives ended spans. Record() must not block for long: it runs on request paths.
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void Record(Span span) = 0;
};

int64_t UnixNanosNow();

// A span in progress: started at construction as a child of `parent` (a new root when `parent`
// is invalid), recorded into `sink` by End() or the destructor, once. A null sink or an
// unsampled parent records nothing, but context() is still valid for propagation.
class ActiveSpan {
 public:
  ActiveSpan(SpanSink* sink, std::string name, SpanKind kind, const TraceContext& parent,
             std::string service = "vox-control-plane", std::string node_id = {});
  ~ActiveSpan() { End(); }
  ActiveSpan(const ActiveSpan&) = delete;
  ActiveSpan& operator=(const ActiveSpan&) = delete;

  const TraceContext& context() const { return context_; }
  template <typename V>
  ActiveSpan& Set(std::string_view key, V&& value) {
    span_.Set(key, std::forward<V>(value));
    return *this;
  }
  void SetError(std::string_view message);
  void End();

 private:
  SpanSink* sink_;
  TraceContext context_;
  Span span_;
  bool ended_ = false;
};

// The trace context current on this thread (what outbound calls propagate), or null.
const TraceContext* CurrentContext();
// Makes `context` current on this thread for the scope's lifetime, then restores the previous.
class ScopedContext {
 public:
  explicit ScopedContext(const TraceContext& context);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  TraceContext context_;
  const TraceContext* previous_;
};

}  // namespace populi::obs
