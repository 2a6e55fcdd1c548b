// Text parsing for env and flag values, and key suggestions.
#include <gtest/gtest.h>

#include "config/config.h"

namespace populi::config {
namespace {

int64_t IntOf(std::string_view key, std::string_view text) {
  auto v = ParseValue(*FindKey(key), text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::get<int64_t>(*v) : -1;
}

TEST(ValueTest, DurationsTakeUnits) {
  EXPECT_EQ(IntOf("mesh.store.retention", "90"), 90);
  EXPECT_EQ(IntOf("mesh.store.retention", "90s"), 90);
  EXPECT_EQ(IntOf("mesh.store.retention", "10m"), 600);
  EXPECT_EQ(IntOf("mesh.store.retention", "2h"), 7200);
  EXPECT_EQ(IntOf("mesh.store.retention", "7d"), 604800);
  EXPECT_EQ(IntOf("mesh.store.retention", "1w"), 604800);
  EXPECT_FALSE(ParseValue(*FindKey("mesh.store.retention"), "7y").ok());
  EXPECT_FALSE(ParseValue(*FindKey("mesh.store.retention"), "-5s").ok());
  EXPECT_FALSE(ParseValue(*FindKey("mesh.store.retention"), "99999999999999999d").ok());
}

TEST(ValueTest, SizesTakeBinaryUnits) {
  const char* key = "mesh.control.http.max_body_bytes";
  EXPECT_EQ(IntOf(key, "2048"), 2048);
  EXPECT_EQ(IntOf(key, "512K"), 512 * 1024);
  EXPECT_EQ(IntOf(key, "1MiB"), 1 << 20);
  EXPECT_EQ(IntOf(key, "1mb"), 1 << 20);
  EXPECT_EQ(IntOf(key, "1G"), 1 << 30);
  EXPECT_FALSE(ParseValue(*FindKey(key), "2G").ok()) << "above the 1G maximum";
  EXPECT_FALSE(ParseValue(*FindKey(key), "12 parsecs").ok());
}

// The grammar itself is tested in tests/util/units_test.cc; these check what config adds to it.
TEST(ValueTest, DurationsKeepWholeSeconds) {
  const char* key = "mesh.store.retention";
  EXPECT_EQ(IntOf(key, "1.5m"), 90);
  EXPECT_EQ(IntOf(key, "120000ms"), 120);
  EXPECT_EQ(IntOf(key, "2H"), 7200);  // spellings Vox.toml has always taken
  EXPECT_EQ(IntOf(key, "90 s"), 90);
  auto fraction = ParseValue(*FindKey(key), "90.5s");
  ASSERT_FALSE(fraction.ok());
  EXPECT_EQ(fraction.status().message(),
            "mesh.store.retention: invalid duration \"90.5s\": not a whole number of seconds");
  EXPECT_FALSE(ParseValue(*FindKey(key), "1.5").ok()) << "a fraction needs a unit";
  EXPECT_FALSE(ParseValue(*FindKey(key), "59s").ok()) << "below the 60s minimum";
}

TEST(ValueTest, SizesTakeFractionsAndRefuseWhatInt64CannotHold) {
  const char* key = "mesh.donation.reserve_memory";
  EXPECT_EQ(IntOf(key, "1.5G"), int64_t{3} << 29);
  EXPECT_EQ(IntOf(key, "4 GiB"), int64_t{4} << 30);
  EXPECT_EQ(IntOf(key, "8388607T"), int64_t{8388607} << 40);
  auto over = ParseValue(*FindKey(key), "8388608T");  // 2^63
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), Code::kInvalidArgument);
  EXPECT_NE(over.status().message().find("too large"), std::string::npos);
  EXPECT_FALSE(ParseValue(*FindKey(key), "1.5").ok()) << "a byte count must be whole";
}

TEST(ValueTest, BoolsListsAndNumbers) {
  EXPECT_EQ(std::get<bool>(*ParseValue(*FindKey("mesh.enabled"), "off")), false);
  EXPECT_EQ(std::get<bool>(*ParseValue(*FindKey("mesh.enabled"), "1")), true);
  EXPECT_FALSE(ParseValue(*FindKey("mesh.enabled"), "maybe").ok());
  EXPECT_EQ(std::get<std::vector<std::string>>(
                *ParseValue(*FindKey("mesh.probe.order"), " nvml , hwloc ,")),
            (std::vector<std::string>{"nvml", "hwloc"}));
  EXPECT_FALSE(ParseValue(*FindKey("mesh.probe.order"), "nvml,cuda").ok());
  // No key of today's schema is a number with a fraction; the type is checked on its own.
  const KeySpec ratio{"test.ratio", "", "", "0", Type::kDouble, false, 0, 1'000'000};
  EXPECT_DOUBLE_EQ(std::get<double>(*ParseValue(ratio, "2.5")), 2.5);
  EXPECT_FALSE(ParseValue(ratio, "-1").ok());
  EXPECT_FALSE(ParseValue(*FindKey("mesh.control.heartbeat_secs"), "2x").ok());
}

TEST(ValueTest, SecretsKeepTheirExactBytes) {
  auto v = ParseValue(*FindKey("mesh.token"), " abc ");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<std::string>(*v), " abc ");
}

TEST(ValueTest, ClosestKeySuggestsNearMisses) {
  EXPECT_EQ(ClosestKey("mesh.control.heartbeat_sec"), "mesh.control.heartbeat_secs");
  EXPECT_EQ(ClosestKey("mesh.store.durabilty"), "mesh.store.durability");
  EXPECT_EQ(ClosestKey("mesh.heartbeat_secs"), "mesh.control.heartbeat_secs");
  EXPECT_EQ(ClosestKey("mesh.completely_unrelated_thing"), "");
}

}  // namespace
}  // namespace populi::config
