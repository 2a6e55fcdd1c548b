// ExpectSameSpan: every field of two spans equal, attribute values compared exactly (doubles by
// their bits, so NaN and -0.0 count). Shared by the span store's tests.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <variant>

#include "obs/span.h"

namespace populi::obs {

inline void ExpectSameValue(const AttributeValue& a, const AttributeValue& b) {
  ASSERT_EQ(a.index(), b.index());
  if (const auto* d = std::get_if<double>(&a)) {
    EXPECT_EQ(std::memcmp(d, &std::get<double>(b), sizeof(double)), 0);
  } else {
    EXPECT_TRUE(a == b);
  }
}

inline void ExpectSameSpan(const Span& a, const Span& b) {
  EXPECT_EQ(a.trace_id, b.trace_id);
  EXPECT_EQ(a.span_id, b.span_id);
  EXPECT_EQ(a.parent_span_id, b.parent_span_id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.start_unix_ns, b.start_unix_ns);
  EXPECT_EQ(a.end_unix_ns, b.end_unix_ns);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.status_message, b.status_message);
  EXPECT_EQ(a.service, b.service);
  EXPECT_EQ(a.node_id, b.node_id);
  EXPECT_EQ(a.dropped_attributes, b.dropped_attributes);
  ASSERT_EQ(a.attributes.size(), b.attributes.size());
  for (size_t i = 0; i < a.attributes.size(); ++i) {
    SCOPED_TRACE(std::string(b.attributes[i].key));
    EXPECT_EQ(a.attributes[i].key, b.attributes[i].key);
    ExpectSameValue(a.attributes[i].value, b.attributes[i].value);
  }
}

}  // namespace populi::obs
