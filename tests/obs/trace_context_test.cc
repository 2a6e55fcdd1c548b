// W3C trace context: every malformed traceparent form is refused with a reason, valid ones
// round-trip, children keep the trace and get a new span, tracestate passes through untouched.
#include "obs/trace_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace populi::obs {
namespace {

using ::testing::HasSubstr;

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, AValidHeaderRoundTrips) {
  auto ctx = ParseTraceparent(kValid, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_TRUE(ctx->valid());
  EXPECT_TRUE(ctx->sampled());
  EXPECT_EQ(ctx->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->SpanIdHex(), "00f067aa0ba902b7");
  EXPECT_EQ(ctx->Traceparent(), kValid);
  EXPECT_EQ(ctx->tracestate, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");

  auto unsampled = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled.ok());
  EXPECT_FALSE(unsampled->sampled());
}

TEST(TraceContextTest, EveryMalformedFormIsRefusedWithWhatIsWrong) {
  const struct {
    std::string header;
    std::string reason;
  } cases[] = {
      {"", "shorter than 55"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", "shorter than 55"},
      {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"},
      {"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version is not"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "not 55 characters"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011", "not 55 characters"},
      {"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "misplaced"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", "misplaced"},
      {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace id is not"},
      {"00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01", "trace id is not"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bX-01", "parent id is not"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z", "flags are not"},
      {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id is all zeros"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent id is all zeros"},
      {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "without a '-'"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseTraceparent(c.header);
    ASSERT_FALSE(parsed.ok()) << "accepted: " << c.header;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.reason)) << c.header;
    EXPECT_FALSE(parsed.status().hint().empty());
  }
}

TEST(TraceContextTest, ALaterVersionIsReadAsVersionZeroAndItsExtraFieldsIgnored) {
  auto ctx = ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-next");
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->Traceparent(), kValid);  // forwarded as the version this code speaks
  auto exact = ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_TRUE(exact.ok());
}

TEST(TraceContextTest, TracestatePassesThroughUntouchedOrNotAtAll) {
  const std::string odd = " a=1 ,, b=two=three\t";  // not ours to judge: passed as given
  auto kept = ParseTraceparent(kValid, odd);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->tracestate, odd);
  EXPECT_EQ(ChildOf(*kept).tracestate, odd);

  auto dropped = ParseTraceparent(kValid, std::string(kMaxTracestateBytes + 1, 'x'));
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped->tracestate, "");
}

TEST(TraceContextTest, AChildKeepsTheTraceAndFlagsAndGetsANewSpan) {
  auto parent = ParseTraceparent(kValid);
  ASSERT_TRUE(parent.ok());
  std::set<std::string> spans;
  for (int i = 0; i < 100; ++i) {
    const TraceContext child = ChildOf(*parent);
    EXPECT_EQ(child.trace_id, parent->trace_id);
    EXPECT_EQ(child.flags, parent->flags);
    EXPECT_NE(child.span_id, parent->span_id);
    spans.insert(child.SpanIdHex());
  }
  EXPECT_EQ(spans.size(), 100u);
}

TEST(TraceContextTest, ARootIsValidSampledAndNewEachTime) {
  const TraceContext a = NewRootContext();
  const TraceContext b = NewRootContext();
  EXPECT_TRUE(a.valid());
  EXPECT_TRUE(a.sampled());
  EXPECT_NE(a.trace_id, b.trace_id);
  auto reparsed = ParseTraceparent(a.Traceparent());
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(reparsed->trace_id, a.trace_id);
  EXPECT_EQ(reparsed->span_id, a.span_id);
  // An invalid parent gives a root, not a context with zero ids.
  EXPECT_TRUE(ChildOf(TraceContext{}).valid());
}

TEST(TraceContextTest, HexConversionRefusesWrongLengthsAndUppercase) {
  uint8_t out[2] = {};
  EXPECT_TRUE(FromHex("0aff", out, 2));
  EXPECT_EQ(out[0], 0x0a);
  EXPECT_EQ(out[1], 0xff);
  EXPECT_EQ(ToHex(out, 2), "0aff");
  EXPECT_FALSE(FromHex("0aF0", out, 2));
  EXPECT_FALSE(FromHex("0af", out, 2));
  EXPECT_FALSE(FromHex("0aff00", out, 2));
}

}  // namespace
}  // namespace populi::obs
