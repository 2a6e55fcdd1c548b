// FormatBytes / ParseSize: binary units, truncation, and the errors a CLI user would see.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "scheduler/size.h"

namespace populi::scheduler {
namespace {

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kTiB = uint64_t{1} << 40;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(FormatBytes, PicksTheLargestUnit) {
  EXPECT_EQ(FormatBytes(0), "0B");
  EXPECT_EQ(FormatBytes(1), "1B");
  EXPECT_EQ(FormatBytes(1023), "1023B");
  EXPECT_EQ(FormatBytes(kKiB), "1K");
  EXPECT_EQ(FormatBytes(512 * kMiB), "512M");
  EXPECT_EQ(FormatBytes(12 * kGiB), "12G");
  EXPECT_EQ(FormatBytes(1024 * kGiB), "1T");
  EXPECT_EQ(FormatBytes(3 * kTiB), "3T");
}

TEST(FormatBytes, FractionsAreTruncatedNeverRoundedUp) {
  EXPECT_EQ(FormatBytes(kGiB + kGiB / 2), "1.5G");
  EXPECT_EQ(FormatBytes(12 * kGiB - 1), "11.9G");  // not "12G": that would hide a shortfall
  EXPECT_EQ(FormatBytes(8'000'000'000), "7.4G");   // an "8 GB" card in binary units
  EXPECT_EQ(FormatBytes(kGiB + kGiB / 20), "1G");  // 1.05 → one decimal, truncated
  EXPECT_EQ(FormatBytes(kMax), "16777215.9T");
}

TEST(ParseSize, AcceptedForms) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  for (const Case& c :
       {Case{"1024", 1024}, Case{"0", 0}, Case{"100B", 100}, Case{"64K", 64 * kKiB},
        Case{"64KB", 64 * kKiB}, Case{"64kib", 64 * kKiB}, Case{"512M", 512 * kMiB},
        Case{"512MiB", 512 * kMiB}, Case{"12G", 12 * kGiB}, Case{"12g", 12 * kGiB},
        Case{"12GB", 12 * kGiB}, Case{"8GiB", 8 * kGiB}, Case{"2T", 2 * kTiB},
        Case{"1.5G", kGiB + kGiB / 2}, Case{"0.5M", kMiB / 2}, Case{" 12G\n", 12 * kGiB},
        Case{"007M", 7 * kMiB}, Case{"18446744073709551615", kMax}}) {
    Result<uint64_t> r = ParseSize(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(ParseSize, FractionsFloorToWholeBytes) {
  Result<uint64_t> r = ParseSize("0.001K");  // 1.024 bytes
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1u);
  r = ParseSize("1.999999T");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2 * kTiB - (kTiB + 999'999) / 1'000'000);
}

TEST(ParseSize, RejectsBadInputWithAHint) {
  for (const char* bad : {"",          "   ",          "-1",
                          "+5G",       "12X",          "12 G",
                          "G",         ".5G",          "1.G",
                          "1.5",       "1.5B",         "1.1234567G",
                          "12GG",      "12Gi",         "1e9",
                          "0x10",      "12G5",         "18446744073709551616",
                          "16777216T", "17179869184G", "16777215.99999999T"}) {
    Result<uint64_t> r = ParseSize(bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' parsed as " << *r;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("invalid size"), std::string::npos) << bad;
    EXPECT_NE(r.status().hint().find("12G"), std::string::npos) << bad;
  }
}

TEST(ParseSize, ErrorsSayWhatIsWrong) {
  EXPECT_NE(ParseSize("12X").status().message().find("unknown unit 'X'"), std::string::npos);
  EXPECT_NE(ParseSize("99999999999999999999").status().message().find("too large"),
            std::string::npos);
  EXPECT_NE(ParseSize("1.5").status().message().find("whole"), std::string::npos);
  EXPECT_NE(ParseSize("-3G").status().message().find("sign"), std::string::npos);
}

TEST(ParseSize, LargestValuesAtTheEdge) {
  // 2^64 − 1 written with a unit cannot be reached exactly; the last whole T/G below it can.
  Result<uint64_t> t = ParseSize("16777215T");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 16777215 * kTiB);
  Result<uint64_t> g = ParseSize("17179869183G");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, 17179869183 * kGiB);
  // The fraction may push a value that fits in whole units over the top.
  Result<uint64_t> near = ParseSize("16777215.999999T");
  ASSERT_TRUE(near.ok());
  EXPECT_LE(*near, kMax);
}

TEST(SizeRoundTrip, FormattedExactSizesParseBack) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{1023}, kKiB, 512 * kMiB, 12 * kGiB,
                     kGiB + kGiB / 2, 80 * kGiB, 5 * kTiB, kTiB / 2 * 3}) {
    Result<uint64_t> back = ParseSize(FormatBytes(v));
    ASSERT_TRUE(back.ok()) << FormatBytes(v);
    EXPECT_EQ(*back, v) << FormatBytes(v);
  }
}

}  // namespace
}  // namespace populi::scheduler
