#include "util/random.h"

#include <gtest/gtest.h>

#include <set>

namespace populi {
namespace {

TEST(Random, HexHasRequestedLengthAndDoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string h = RandomHex(16);
    ASSERT_EQ(h.size(), 32u);
    ASSERT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(h);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Random, BelowStaysInRangeAndCoversIt) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = RandomBelow(7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
}

}  // namespace
}  // namespace populi
