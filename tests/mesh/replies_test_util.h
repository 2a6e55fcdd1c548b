// Helpers for the reply codec tests: a record through its wire text and back, a document decoded
// and written again, and the error a document decodes to.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "mesh/parse_json.h"
#include "mesh/replies_json.h"

namespace populi::mesh::testing {

template <typename T>
using Decoder = Result<T> (*)(const boost::json::value&);

// `x` encoded, serialised, parsed and decoded again.
template <typename T>
T ThroughWire(const T& x, Decoder<T> decode) {
  auto back = decode(Parse(boost::json::serialize(ToJson(x))));
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  return back.ok() ? *back : T{};
}

// `text` (a document as the server writes it) decoded and encoded again: the same document.
template <typename T>
void ExpectSameDocument(std::string_view text, Decoder<T> decode) {
  const boost::json::value doc = Parse(text);
  auto decoded = decode(doc);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(boost::json::value(ToJson(*decoded)), doc) << text;
}

// The message of the error `text` decodes to; empty (and a failure) when it decodes.
template <typename T>
std::string ErrorOf(std::string_view text, Decoder<T> decode) {
  auto decoded = decode(Parse(text));
  EXPECT_FALSE(decoded.ok()) << text;
  if (decoded.ok()) return {};
  EXPECT_EQ(decoded.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(decoded.status().hint().empty());
  return decoded.status().message();
}

}  // namespace populi::mesh::testing
