#include "obs/span.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>
#include <utility>

namespace populi::obs {
namespace {

thread_local const TraceContext* current_context = nullptr;

// Cuts `s` to kMaxAttributeBytes on a UTF-8 boundary, so the value stays valid text; a value
// within the bound (nearly all) is left as it is, without a copy.
void BoundInPlace(std::string& s) {
  if (s.size() <= kMaxAttributeBytes) return;
  size_t n = kMaxAttributeBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
}

// Every key interned so far; nodes never move, so views into their strings stay valid.
struct KeyTable {
  std::mutex mu;
  std::unordered_set<std::string> keys;
};

KeyTable& Keys() {
  static KeyTable* table = new KeyTable();  // never destroyed: views into it outlive statics
  return *table;
}

}  // namespace

std::string_view InternAttributeKey(std::string_view key) {
  if (key.size() > kMaxAttributeBytes) {
    size_t n = kMaxAttributeBytes;
    while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
    key = key.substr(0, n);
  }
  thread_local std::unordered_set<std::string_view> seen;
  if (auto it = seen.find(key); it != seen.end()) return *it;
  KeyTable& table = Keys();
  std::lock_guard lock(table.mu);
  auto it = table.keys.find(std::string(key));
  if (it == table.keys.end()) {
    if (table.keys.size() >= kMaxAttributeKeys) return {};
    it = table.keys.emplace(key).first;
  }
  const std::string_view interned = *it;
  seen.insert(interned);
  return interned;
}

std::string_view ToString(SpanKind kind) {
  switch (kind) {
    case SpanKind::kServer:
      return "server";
    case SpanKind::kClient:
      return "client";
    case SpanKind::kProducer:
      return "producer";
    case SpanKind::kConsumer:
      return "consumer";
    case SpanKind::kInternal:
      break;
  }
  return "internal";
}

Span& Span::SetValue(std::string_view key, AttributeValue value) {
  if (auto* s = std::get_if<std::string>(&value)) BoundInPlace(*s);
  for (auto& a : attributes) {
    if (a.key == key) {
      a.value = std::move(value);
      return *this;
    }
  }
  if (attributes.size() >= kMaxAttributes) {
    ++dropped_attributes;
    return *this;
  }
  const std::string_view interned = InternAttributeKey(key);
  if (interned.empty()) {
    ++dropped_attributes;
    return *this;
  }
  attributes.push_back({interned, std::move(value)});
  return *this;
}

const AttributeValue* Span::Find(std::string_view key) const {
  for (const auto& a : attributes) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

bool Span::has_parent() const {
  return std::any_of(parent_span_id.begin(), parent_span_id.end(), [](uint8_t b) { return b; });
}

int64_t UnixNanosNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ActiveSpan::ActiveSpan(SpanSink* sink, std::string name, SpanKind kind, const TraceContext& parent,
                       std::string service, std::string node_id)
    : sink_(parent.valid() && !parent.sampled() ? nullptr : sink), context_(ChildOf(parent)) {
  span_.trace_id = context_.trace_id;
  span_.span_id = context_.span_id;
  if (parent.valid()) span_.parent_span_id = parent.span_id;
  BoundInPlace(name);
  span_.name = std::move(name);
  span_.kind = kind;
  span_.service = std::move(service);
  span_.node_id = std::move(node_id);
  span_.start_unix_ns = UnixNanosNow();
}

void ActiveSpan::SetError(std::string_view message) {
  span_.error = true;
  span_.status_message = std::string(message);
  BoundInPlace(span_.status_message);
}

void ActiveSpan::End() {
  if (ended_) return;
  ended_ = true;
  if (sink_ == nullptr) return;
  span_.end_unix_ns = std::max(UnixNanosNow(), span_.start_unix_ns);
  sink_->Record(std::move(span_));
}

const TraceContext* CurrentContext() {
  return current_context;
}

ScopedContext::ScopedContext(const TraceContext& context)
    : context_(context), previous_(current_context) {
  current_context = &context_;
}

ScopedContext::~ScopedContext() {
  current_context = previous_;
}

}  // namespace populi::obs
