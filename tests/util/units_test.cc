// The size and duration grammar of util/units.h: one test per accepted and per refused spelling,
// the formatters, and the errors a user reading a config check or a CLI usage error would see.
#include "util/units.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

namespace populi {
namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

// "1.5G" → "i7_1_5G": test names may hold only letters, digits and '_'.
template <typename Case>
std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = "i" + std::to_string(info.index) + "_";
  for (char c : std::string(info.param.text)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    name += keep ? c : '_';
  }
  return name;
}

// ---- sizes ----

struct SizeCase {
  const char* text;
  uint64_t bytes;
};
void PrintTo(const SizeCase& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class AcceptedSize : public ::testing::TestWithParam<SizeCase> {};

TEST_P(AcceptedSize, Parses) {
  Result<uint64_t> r = ParseSize(GetParam().text);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, GetParam().bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Units, AcceptedSize,
    ::testing::ValuesIn(std::vector<SizeCase>{
        {"0", 0},
        {"1024", 1024},  // a bare number is bytes
        {"007M", 7 * kMiB},
        {"18446744073709551615", kMaxU64},
        {"100B", 100},
        {"100b", 100},
        {"0B", 0},
        {"64K", 64 * kKiB},
        {"64k", 64 * kKiB},
        {"64KB", 64 * kKiB},
        {"64kb", 64 * kKiB},
        {"64KiB", 64 * kKiB},
        {"64kib", 64 * kKiB},
        {"512M", 512 * kMiB},
        {"512MiB", 512 * kMiB},
        {"1mb", kMiB},
        {"1G", kGiB},
        {"12G", 12 * kGiB},
        {"12g", 12 * kGiB},
        {"12GB", 12 * kGiB},  // every unit is binary, GB included
        {"8GiB", 8 * kGiB},
        {"8gIb", 8 * kGiB},
        {"2T", 2 * kTiB},
        {"2tib", 2 * kTiB},
        {"1.5G", kGiB + kGiB / 2},
        {"1.0G", kGiB},
        {"0.5M", kMiB / 2},
        {"0.001K", 1},  // 1.024 bytes, floored
        {"1.999999T", 2 * kTiB - (kTiB + 999'999) / 1'000'000},
        {" 12G\n", 12 * kGiB},
        {"\t2T\t", 2 * kTiB},
        {"12 G", 12 * kGiB},  // blanks between number and unit: Vox.toml has always taken them
        {"1 GiB", kGiB},
        {"512 m", 512 * kMiB},
        {"16777215T", 16777215 * kTiB},  // the last whole T below 2^64
        {"17179869183G", 17179869183 * kGiB},
        {"16777215.999999T", 16777215 * kTiB + (kTiB * 999'999) / 1'000'000},
    }),
    CaseName<SizeCase>);

struct RefusedCase {
  const char* text;
  const char* why;  // a part of the message
};
void PrintTo(const RefusedCase& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class RefusedSize : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(RefusedSize, IsInvalidArgumentWithAHint) {
  Result<uint64_t> r = ParseSize(GetParam().text);
  ASSERT_FALSE(r.ok()) << "parsed as " << *r;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(
      r.status().message().rfind("invalid size \"" + std::string(GetParam().text) + "\": ", 0), 0u)
      << r.status().message();
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().hint().find("12G"), std::string::npos) << r.status().hint();
}

INSTANTIATE_TEST_SUITE_P(Units, RefusedSize,
                         ::testing::ValuesIn(std::vector<RefusedCase>{
                             {"", "empty"},
                             {"   ", "empty"},
                             {"-1", "sign"},
                             {"-3G", "sign"},
                             {"+5G", "sign"},
                             {"G", "expected a number"},
                             {".5G", "expected a number"},
                             {"1.G", "digits after it"},
                             {"1.5", "whole"},
                             {"1.5B", "whole"},
                             {"1.1234567G", "at most 6 decimal places"},
                             {"16777215.99999999T", "at most 6 decimal places"},
                             {"12X", "unknown unit \"X\""},
                             {"12GG", "unknown unit \"GG\""},
                             {"12Gi", "unknown unit \"Gi\""},
                             {"1ib", "unknown unit \"ib\""},
                             {"1bb", "unknown unit \"bb\""},
                             {"1e9", "unknown unit \"e9\""},
                             {"0x10", "unknown unit \"x10\""},
                             {"12G5", "unknown unit \"G5\""},
                             {"1,5G", "unknown unit \",5G\""},
                             {"1 2G", "unknown unit \"2G\""},
                             {"12 parsecs", "unknown unit \"parsecs\""},
                             {"18446744073709551616", "too large"},
                             {"99999999999999999999", "too large"},
                             {"16777216T", "too large"},
                             {"17179869184G", "too large"},
                         }),
                         CaseName<RefusedCase>);

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
  EXPECT_EQ(FormatBytes(kMaxU64), "16777215.9T");
}

TEST(FormatBytes, ExactSizesParseBack) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{1023}, kKiB, 512 * kMiB, 12 * kGiB,
                     kGiB + kGiB / 2, 80 * kGiB, 5 * kTiB, kTiB / 2 * 3}) {
    Result<uint64_t> back = ParseSize(FormatBytes(v));
    ASSERT_TRUE(back.ok()) << FormatBytes(v);
    EXPECT_EQ(*back, v) << FormatBytes(v);
  }
}

// ---- durations ----

struct DurationCase {
  const char* text;
  BareUnit bare;
  int64_t ms;
};
void PrintTo(const DurationCase& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class AcceptedDuration : public ::testing::TestWithParam<DurationCase> {};

TEST_P(AcceptedDuration, Parses) {
  Result<int64_t> r = ParseDurationMs(GetParam().text, GetParam().bare);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, GetParam().ms);
}

constexpr BareUnit kSecs = BareUnit::kSeconds;
constexpr BareUnit kMs = BareUnit::kMilliseconds;

INSTANTIATE_TEST_SUITE_P(Units, AcceptedDuration,
                         ::testing::ValuesIn(std::vector<DurationCase>{
                             {"0", kSecs, 0},
                             {"90", kSecs, 90'000},  // a bare number is in the caller's unit
                             {"90", kMs, 90},
                             {"007s", kSecs, 7'000},
                             {"1500ms", kSecs, 1'500},
                             {"0ms", kSecs, 0},
                             {"90s", kSecs, 90'000},
                             {"0s", kSecs, 0},
                             {"10m", kSecs, 600'000},
                             {"2h", kSecs, 7'200'000},
                             {"1d", kSecs, kMsPerDay},
                             {"7d", kSecs, 7 * kMsPerDay},
                             {"1w", kSecs, 7 * kMsPerDay},
                             {"1.5s", kSecs, 1'500},
                             {"1.5m", kSecs, 90'000},
                             {"0.5h", kSecs, 1'800'000},
                             {"1.5d", kSecs, 36 * kMsPerHour},
                             {"0.001s", kSecs, 1},
                             {"0.0005s", kSecs, 0},  // floored to whole milliseconds
                             {"1.999999s", kSecs, 1'999},
                             {"2H", kSecs, 7'200'000},  // units are case-insensitive
                             {"90S", kSecs, 90'000},
                             {"1500MS", kSecs, 1'500},
                             {"10M", kSecs, 600'000},  // minutes: there is no month
                             {"7D", kSecs, 7 * kMsPerDay},
                             {" 90s\n", kSecs, 90'000},
                             {"90 s", kSecs, 90'000},
                             {"5\tm", kSecs, 300'000},
                             {"9223372036854775807ms", kSecs, kMaxI64},
                             {"9223372036854775807", kMs, kMaxI64},
                             {"9223372036854775s", kSecs, 9'223'372'036'854'775'000},
                             {"15250w", kSecs, 15250 * 7 * kMsPerDay},
                         }),
                         CaseName<DurationCase>);

struct RefusedDurationCase {
  const char* text;
  const char* why;
};
void PrintTo(const RefusedDurationCase& c, std::ostream* os) {
  *os << '"' << c.text << '"';
}

class RefusedDuration : public ::testing::TestWithParam<RefusedDurationCase> {};

TEST_P(RefusedDuration, IsInvalidArgumentWithAHint) {
  for (BareUnit bare : {kSecs, kMs}) {
    Result<int64_t> r = ParseDurationMs(GetParam().text, bare);
    ASSERT_FALSE(r.ok()) << "parsed as " << *r;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(
                  "invalid duration \"" + std::string(GetParam().text) + "\": ", 0),
              0u)
        << r.status().message();
    EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().hint().find("90s"), std::string::npos) << r.status().hint();
  }
}

INSTANTIATE_TEST_SUITE_P(Units, RefusedDuration,
                         ::testing::ValuesIn(std::vector<RefusedDurationCase>{
                             {"", "empty"},
                             {" ", "empty"},
                             {"-5s", "sign"},
                             {"+5s", "sign"},
                             {"soon", "expected a number"},
                             {"s", "expected a number"},
                             {".5s", "expected a number"},
                             {"1.s", "digits after it"},
                             {"1.5", "a fraction needs a unit"},
                             {"1.5ms", "milliseconds must be whole"},
                             {"1.1234567s", "at most 6 decimal places"},
                             {"7y", "unknown unit \"y\""},
                             {"10x", "unknown unit \"x\""},
                             {"5 minutes", "unknown unit \"minutes\""},
                             {"7 fortnights", "unknown unit \"fortnights\""},
                             {"1h30m", "unknown unit \"h30m\""},
                             {"1e3s", "unknown unit \"e3s\""},
                             {"0x10s", "unknown unit \"x10s\""},
                             {"10sec", "unknown unit \"sec\""},
                             {"9223372036854776s", "too large"},
                             {"9223372036854775808ms", "too large"},
                             {"99999999999999999999", "too large"},
                             {"99999999999999999d", "too large"},
                         }),
                         CaseName<RefusedDurationCase>);

TEST(ParseDurationMs, HintNamesTheBareUnit) {
  EXPECT_NE(ParseDurationMs("soon", kSecs).status().hint().find("a bare number is seconds"),
            std::string::npos);
  EXPECT_NE(ParseDurationMs("soon", kMs).status().hint().find("a bare number is milliseconds"),
            std::string::npos);
}

TEST(ParseDurationSecs, KeepsWholeSeconds) {
  for (const auto& [text, secs] : std::vector<std::pair<const char*, int64_t>>{{"90", 90},
                                                                               {"90s", 90},
                                                                               {"1.5m", 90},
                                                                               {"2000ms", 2},
                                                                               {"7d", 604'800},
                                                                               {"1w", 604'800},
                                                                               {"0", 0}}) {
    Result<int64_t> r = ParseDurationSecs(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    EXPECT_EQ(*r, secs) << text;
  }
}

TEST(ParseDurationSecs, RefusesWhatIsNotWholeSecondsRatherThanRounding) {
  for (const char* text : {"1.5s", "10ms", "1500ms", "0.5s"}) {
    Result<int64_t> r = ParseDurationSecs(text);
    ASSERT_FALSE(r.ok()) << text << " parsed as " << *r;
    EXPECT_NE(r.status().message().find("not a whole number of seconds"), std::string::npos)
        << r.status().message();
  }
}

TEST(ParseDurationSecs, HintSuggestsOnlyWholeSecondForms) {
  for (const char* text : {"1.5s", "soon", "-1"}) {
    const std::string hint = ParseDurationSecs(text).status().hint();
    EXPECT_NE(hint.find("90s"), std::string::npos) << hint;
    EXPECT_EQ(hint.find("ms"), std::string::npos) << hint;
  }
}

TEST(FormatDuration, TakesTheLargestUnitTruncated) {
  EXPECT_EQ(FormatDuration(0), "0ms");
  EXPECT_EQ(FormatDuration(999), "999ms");
  EXPECT_EQ(FormatDuration(1'000), "1s");
  EXPECT_EQ(FormatDuration(12'000), "12s");
  EXPECT_EQ(FormatDuration(59'999), "59s");
  EXPECT_EQ(FormatDuration(60'000), "1m");
  EXPECT_EQ(FormatDuration(3 * kMsPerMinute + 5'000), "3m");
  EXPECT_EQ(FormatDuration(5 * kMsPerHour), "5h");
  EXPECT_EQ(FormatDuration(kMsPerDay - 1), "23h");
  EXPECT_EQ(FormatDuration(2 * kMsPerDay), "2d");
  EXPECT_EQ(FormatDuration(14 * kMsPerDay), "14d");  // no weeks
  EXPECT_EQ(FormatDuration(400 * kMsPerDay), "400d");
  EXPECT_EQ(FormatDuration(-30'000), "-30s");
  EXPECT_EQ(FormatDuration(std::numeric_limits<int64_t>::min()), "-106751991167d");
}

TEST(FormatDuration, WholeUnitsParseBack) {
  for (int64_t ms : {int64_t{0}, int64_t{999}, int64_t{12'000}, 3 * kMsPerMinute, 5 * kMsPerHour,
                     400 * kMsPerDay}) {
    Result<int64_t> back = ParseDurationMs(FormatDuration(ms), kSecs);
    ASSERT_TRUE(back.ok()) << FormatDuration(ms);
    EXPECT_EQ(*back, ms) << FormatDuration(ms);
  }
}

}  // namespace
}  // namespace populi
