// Sizes and durations as people write them: one grammar for Vox.toml, the environment and CLI
// flags, documented once in docs/config.md ("Sizes and durations").
//
//   value    = blank* number blank* unit? blank*      blank: space, tab, CR, LF
//   number   = digit+ ( "." digit{1,6} )?             no sign, no exponent, no hex
//   size     unit: B | K | M | G | T, the letters optionally followed by B or iB
//   duration unit: ms | s | m | h | d | w
//
// Units are case-insensitive. Every size unit is binary (K = 2^10, M = 2^20, G = 2^30, T = 2^40,
// whichever way it is spelled: "12G", "12GB", "12GiB", "12g"). Durations are kept in milliseconds:
// ms = 1, s = 1000, m = 60 s, h = 60 m, d = 24 h, w = 7 d. A fraction needs an explicit unit
// larger than the smallest one ("1.5G", "1.5s"; not "1.5", "1.5B" or "1.5ms") and is floored to
// whole bytes / milliseconds. A value that does not fit the result type is refused.
//
// Every error is InvalidArgument: the message says what is wrong ("invalid size \"12X\": unknown
// unit \"X\" (use B, K, M, G or T)"), the hint shows the accepted forms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace populi {

inline constexpr uint64_t kKiB = uint64_t{1} << 10;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;
inline constexpr uint64_t kTiB = uint64_t{1} << 40;

inline constexpr int64_t kMsPerSecond = 1000;
inline constexpr int64_t kMsPerMinute = 60 * kMsPerSecond;
inline constexpr int64_t kMsPerHour = 60 * kMsPerMinute;
inline constexpr int64_t kMsPerDay = 24 * kMsPerHour;

// ---- sizes ----

// Reads "1024" (a bare number is bytes), "100B", "512M", "12G", "8GiB", "64kb", "1.5G", "2 T"
// into bytes. Values over 2^64 − 1 are refused.
Result<uint64_t> ParseSize(std::string_view text);

// "12G", "512M", "1.5G", "7.4G", "900K", "512B", "0B". The largest unit that gives at least 1 is
// used; a fraction keeps one decimal, truncated (never rounded up: "best 11.9G free" must not
// read as 12G), and a ".0" is dropped. ParseSize(FormatBytes(n)) == n whenever the text is exact.
std::string FormatBytes(uint64_t bytes);

// ---- durations ----

// The unit of a duration written as a bare number ("90"). Every Vox.toml / environment duration
// key and every CLI duration flag passes kSeconds; kMilliseconds is for values that have always
// been bare milliseconds.
enum class BareUnit : int64_t { kMilliseconds = 1, kSeconds = kMsPerSecond };

// Reads "1500ms", "90s", "1.5m", "2h", "7d", "1w", "90" (in `bare`) into milliseconds. A value
// over 2^63 − 1 ms is refused.
Result<int64_t> ParseDurationMs(std::string_view text, BareUnit bare);

// ParseDurationMs with bare seconds, for values kept in whole seconds: "90", "1.5m", "1500ms"
// → seconds. A duration that is not a whole number of seconds ("1.5s", "10ms") is refused rather
// than rounded.
Result<int64_t> ParseDurationSecs(std::string_view text);

// A coarse, human reading of a duration for ages and countdowns: the largest of ms, s, m, h, d
// that gives at least 1, truncated to whole units: "0ms", "999ms", "12s", "3m", "5h", "2d",
// "400d". A negative duration reads with a leading '-'. Not meant to be parsed back exactly.
std::string FormatDuration(int64_t ms);

}  // namespace populi
