#include "obs/span_compact.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace populi::obs {
namespace {

template <typename T>
void PutFixed(std::string& out, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

size_t StringSize(std::string_view s) {
  return VarintSize(s.size()) + s.size();
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

void PutAttribute(std::string& out, const SpanAttribute& a) {
  PutFixed(out, reinterpret_cast<uintptr_t>(a.key.data()));
  PutVarint(out, a.key.size());
  out.push_back(static_cast<char>(a.value.index()));
  if (const auto* s = std::get_if<std::string>(&a.value)) {
    PutString(out, *s);
  } else if (const auto* i = std::get_if<int64_t>(&a.value)) {
    PutFixed(out, *i);
  } else if (const auto* d = std::get_if<double>(&a.value)) {
    PutFixed(out, *d);
  } else {
    out.push_back(std::get<bool>(a.value) ? 1 : 0);
  }
}

// Reads what the Put functions wrote; every read checks the bounds, and the first failure makes
// ok() false for good (later reads return zeros).
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return at_ == in_.size(); }
  size_t left() const { return in_.size() - at_; }

  template <typename T>
  T Fixed() {
    T v{};
    if (!Need(sizeof(T))) return v;
    std::memcpy(&v, in_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const auto byte = Fixed<uint8_t>();
      if (!ok_) return 0;
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    ok_ = false;
    return 0;
  }
  std::string_view Bytes(uint64_t n) {
    if (!Need(n)) return {};
    std::string_view s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  std::string_view String() { return Bytes(Varint()); }

 private:
  bool Need(uint64_t n) {
    if (ok_ && n <= in_.size() - at_) return true;
    ok_ = false;
    return false;
  }
  std::string_view in_;
  size_t at_ = 0;
  bool ok_ = true;
};

bool ReadAttribute(Reader& r, SpanAttribute& a) {
  const auto key = r.Fixed<uintptr_t>();
  const uint64_t key_size = r.Varint();
  a.key = std::string_view(reinterpret_cast<const char*>(key), key_size);
  switch (r.Fixed<uint8_t>()) {
    case 0:
      a.value = std::string(r.String());
      break;
    case 1:
      a.value = r.Fixed<int64_t>();
      break;
    case 2:
      a.value = r.Fixed<double>();
      break;
    case 3:
      a.value = r.Fixed<uint8_t>() != 0;
      break;
    default:
      return false;
  }
  return r.ok();
}

// One span from `r`, which holds exactly its bytes.
bool ReadSpan(Reader& r, Span& s) {
  s.trace_id = r.Fixed<TraceId>();
  s.span_id = r.Fixed<SpanId>();
  s.parent_span_id = r.Fixed<SpanId>();
  s.start_unix_ns = r.Fixed<int64_t>();
  s.end_unix_ns = r.Fixed<int64_t>();
  s.dropped_attributes = r.Fixed<uint32_t>();
  s.kind = static_cast<SpanKind>(r.Fixed<uint8_t>());
  s.error = r.Fixed<uint8_t>() != 0;
  s.name = r.String();
  s.status_message = r.String();
  s.service = r.String();
  s.node_id = r.String();
  const uint64_t count = r.Varint();
  constexpr size_t kLeastAttributeBytes = sizeof(uintptr_t) + 3;  // key, key size, type, value
  if (!r.ok() || count > r.left() / kLeastAttributeBytes) return false;
  s.attributes.resize(count);
  for (auto& a : s.attributes) {
    if (!ReadAttribute(r, a)) return false;
  }
  return r.ok() && r.done();
}

}  // namespace

size_t CompactSpanSize(const Span& span) {
  constexpr size_t kFixed = sizeof(uint32_t) + sizeof(TraceId) + 2 * sizeof(SpanId) +
                            2 * sizeof(int64_t) + sizeof(uint32_t) + 2;
  size_t n = kFixed + StringSize(span.name) + StringSize(span.status_message) +
             StringSize(span.service) + StringSize(span.node_id) +
             VarintSize(span.attributes.size());
  for (const auto& a : span.attributes) {
    n += sizeof(uintptr_t) + VarintSize(a.key.size()) + 1;
    if (const auto* s = std::get_if<std::string>(&a.value)) {
      n += StringSize(*s);
    } else {
      n += std::holds_alternative<bool>(a.value) ? 1 : 8;
    }
  }
  return n;
}

void AppendCompactSpan(const Span& span, std::string& out) {
  const size_t start = out.size();
  PutFixed(out, uint32_t{0});  // the length, filled in below
  PutFixed(out, span.trace_id);
  PutFixed(out, span.span_id);
  PutFixed(out, span.parent_span_id);
  PutFixed(out, span.start_unix_ns);
  PutFixed(out, span.end_unix_ns);
  PutFixed(out, span.dropped_attributes);
  PutFixed(out, static_cast<uint8_t>(span.kind));
  PutFixed(out, static_cast<uint8_t>(span.error ? 1 : 0));
  PutString(out, span.name);
  PutString(out, span.status_message);
  PutString(out, span.service);
  PutString(out, span.node_id);
  PutVarint(out, span.attributes.size());
  for (const auto& a : span.attributes) PutAttribute(out, a);
  const auto length = static_cast<uint32_t>(out.size() - start - sizeof(uint32_t));
  std::memcpy(out.data() + start, &length, sizeof(length));
}

Status ExpandCompactSpans(std::string_view bytes, std::vector<Span>& out) {
  Reader all(bytes);
  while (!all.done()) {
    const auto length = all.Fixed<uint32_t>();
    Reader one(all.Bytes(length));
    bool read = false;
    if (all.ok()) {
      read = ReadSpan(one, out.emplace_back());
      if (!read) out.pop_back();
    }
    if (!read) {
      return Internal("a retained span could not be read back",
                      "this is a bug in the span store; the trace is shown without it");
    }
  }
  return Status();
}

}  // namespace populi::obs
