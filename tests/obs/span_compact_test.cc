// The compact form of retained spans (span_compact.h): every field and every attribute type comes
// back exactly as it went in, the size is known before writing, and bytes that are not the form's
// are refused without reading past them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "obs/span_compact.h"
#include "span_expect.h"

namespace populi::obs {
namespace {

// A span with every field set to something other than its default.
Span FullSpan(SpanKind kind, bool error) {
  const TraceContext t = NewRootContext();
  Span s;
  s.trace_id = t.trace_id;
  s.span_id = ChildOf(t).span_id;
  s.parent_span_id = t.span_id;
  s.name = "POST /v1/populi/a2a/deliver";
  s.kind = kind;
  s.start_unix_ns = 1'700'000'000'123'456'789;
  s.end_unix_ns = 1'700'000'000'223'456'789;
  s.error = error;
  if (error) s.status_message = "lease lost — retrying";
  s.service = "vox-agent";
  s.node_id = "gpu-1";
  s.dropped_attributes = 7;
  return s;
}

std::vector<Span> RoundTrip(const std::vector<Span>& spans) {
  std::string bytes;
  for (const Span& s : spans) AppendCompactSpan(s, bytes);
  std::vector<Span> back;
  const Status st = ExpandCompactSpans(bytes, back);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return back;
}

#if defined(__GLIBCXX__) && __SIZEOF_POINTER__ == 8
// A field added to Span must be added to the compact form and to ExpectSameSpan; this fails first.
static_assert(sizeof(Span) == 224, "Span changed: extend span_compact.cc and ExpectSameSpan");
#endif

TEST(SpanCompactTest, EveryFieldAndKindAndStatusRoundTrips) {
  std::vector<Span> spans;
  for (SpanKind kind : {SpanKind::kInternal, SpanKind::kServer, SpanKind::kClient,
                        SpanKind::kProducer, SpanKind::kConsumer}) {
    spans.push_back(FullSpan(kind, false));
    spans.push_back(FullSpan(kind, true));
  }
  Span bare;  // every field at its default: zero ids, empty strings, no attributes
  spans.push_back(bare);
  Span extremes = FullSpan(SpanKind::kServer, true);
  extremes.start_unix_ns = std::numeric_limits<int64_t>::min();
  extremes.end_unix_ns = std::numeric_limits<int64_t>::max();
  extremes.dropped_attributes = std::numeric_limits<uint32_t>::max();
  spans.push_back(extremes);
  const auto back = RoundTrip(spans);
  ASSERT_EQ(back.size(), spans.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSameSpan(back[i], spans[i]);
  }
}

TEST(SpanCompactTest, EveryAttributeTypeAndStringShapeRoundTrips) {
  Span s = FullSpan(SpanKind::kConsumer, false);
  s.Set("c.empty", std::string());
  s.Set("c.max", std::string(kMaxAttributeBytes, 'm'));  // a two-byte length
  s.Set("c.utf8", std::string("naïve 漢字 🙂 \xc3\xa9"));
  s.Set("c.nul", std::string("a\0b", 3));
  s.Set("c.i.min", std::numeric_limits<int64_t>::min());
  s.Set("c.i.max", std::numeric_limits<int64_t>::max());
  s.Set("c.i.zero", 0).Set("c.i.neg", -1);
  s.Set("c.d", 0.1).Set("c.d.neg0", -0.0).Set("c.d.inf", std::numeric_limits<double>::infinity());
  s.Set("c.d.nan", std::numeric_limits<double>::quiet_NaN());
  s.Set("c.d.tiny", std::numeric_limits<double>::denorm_min());
  s.Set("c.true", true).Set("c.false", false);
  s.name = std::string(kMaxAttributeBytes, 'n');
  const auto back = RoundTrip({s});
  ASSERT_EQ(back.size(), 1u);
  ExpectSameSpan(back[0], s);
  // Keys come back as the interned key itself, not a copy.
  ASSERT_EQ(back[0].attributes.size(), s.attributes.size());
  EXPECT_EQ(back[0].attributes[0].key.data(), InternAttributeKey("c.empty").data());
  EXPECT_TRUE(std::signbit(std::get<double>(*back[0].Find("c.d.neg0"))));
  EXPECT_TRUE(std::isnan(std::get<double>(*back[0].Find("c.d.nan"))));
}

TEST(SpanCompactTest, LongFieldsAndManyAttributesRoundTrip) {
  // Span's fields are not bounded when set directly: lengths past one and two varint bytes.
  Span s = FullSpan(SpanKind::kInternal, true);
  s.name = std::string(20'000, 'x');
  s.status_message = std::string(200, 's');
  s.node_id = std::string(128, 'n');
  for (size_t i = 0; i < kMaxAttributes; ++i) s.Set("c.many." + std::to_string(i), int64_t(i));
  const auto back = RoundTrip({s, FullSpan(SpanKind::kClient, false)});
  ASSERT_EQ(back.size(), 2u);
  ExpectSameSpan(back[0], s);
  EXPECT_EQ(back[0].attributes.size(), kMaxAttributes);
}

TEST(SpanCompactTest, TheSizeIsKnownBeforehandAndEarlierBytesAreKept) {
  Span s = FullSpan(SpanKind::kServer, true);
  s.Set("c.size.str", std::string(300, 'v')).Set("c.size.b", true).Set("c.size.d", 2.5);
  std::string bytes = "prefix";
  AppendCompactSpan(s, bytes);
  EXPECT_EQ(bytes.size(), 6 + CompactSpanSize(s));
  EXPECT_EQ(bytes.substr(0, 6), "prefix");
  Span bare;
  EXPECT_EQ(CompactSpanSize(bare), [&] {
    std::string b;
    AppendCompactSpan(bare, b);
    return b.size();
  }());
}

TEST(SpanCompactTest, BytesNotOfTheFormAreRefusedKeepingWhatCameBefore) {
  Span a = FullSpan(SpanKind::kServer, false);
  a.Set("c.bad", std::string("value"));
  std::string good;
  AppendCompactSpan(a, good);
  // Every truncation of a second span is refused; the first still comes back.
  for (size_t cut = 1; cut < good.size(); ++cut) {
    std::vector<Span> out;
    const Status st = ExpandCompactSpans(good + good.substr(0, cut), out);
    EXPECT_FALSE(st.ok()) << cut;
    ASSERT_EQ(out.size(), 1u) << cut;
    ExpectSameSpan(out[0], a);
  }
  // A record whose own length is consistent but whose fields run short.
  for (size_t cut = 1; cut + sizeof(uint32_t) < good.size(); ++cut) {
    std::string rec = good.substr(0, good.size() - cut);
    const auto length = static_cast<uint32_t>(rec.size() - sizeof(uint32_t));
    std::memcpy(rec.data(), &length, sizeof(length));
    std::vector<Span> out;
    EXPECT_FALSE(ExpandCompactSpans(rec, out).ok()) << cut;
    EXPECT_TRUE(out.empty()) << cut;
  }
  // A length that claims more than is there, and an unknown attribute type.
  std::string lying = good;
  const uint32_t huge = 1u << 30;
  std::memcpy(lying.data(), &huge, sizeof(huge));
  std::vector<Span> out;
  EXPECT_FALSE(ExpandCompactSpans(lying, out).ok());
  EXPECT_TRUE(out.empty());
  std::string bad_type = good;
  const size_t type_at = good.size() - (1 + 1 + 5);  // type byte, varint 5, "value"
  ASSERT_EQ(bad_type[type_at], 0);                   // the string type
  bad_type[type_at] = 9;
  EXPECT_FALSE(ExpandCompactSpans(bad_type, out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(ExpandCompactSpans("", out).ok());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace populi::obs
