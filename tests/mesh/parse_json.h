// The mesh tests' JSON input: text parsed with mesh::ParseJson, failing the test when it does not
// parse (an empty value then).
#pragma once

#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <string_view>

#include "mesh/json.h"

namespace populi::mesh::testing {

inline boost::json::value Parse(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : boost::json::value();
}

}  // namespace populi::mesh::testing
