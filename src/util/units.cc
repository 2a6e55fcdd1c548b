// The size and duration grammar (contracts in units.h).
#include "util/units.h"

#include <array>
#include <cctype>
#include <limits>
#include <utility>

namespace populi {

namespace {

constexpr int kMaxDecimals = 6;

constexpr std::string_view kSizeHint =
    "write a byte count or a number with a binary unit, e.g. 1024, 512M, 12G, 8GiB, 1.5G";

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A number as written: whole part, decimals, and the unit text after it.
struct Number {
  uint64_t whole = 0;
  uint64_t fraction = 0;  // the decimals as an integer
  uint64_t scale = 1;     // 10^(number of decimals)
  bool has_point = false;
  std::string_view unit;  // blanks around it removed; may be empty
};

// Reads `value` (see units.h) up to the unit. On failure returns the reason ("empty", "too
// large", ...) and leaves `out` unspecified; on success returns "".
std::string ReadNumber(std::string_view text, Number* out) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && IsBlank(text[begin])) ++begin;
  while (end > begin && IsBlank(text[end - 1])) --end;
  const std::string_view s = text.substr(begin, end - begin);
  if (s.empty()) return "empty";
  if (s[0] == '-' || s[0] == '+') return "no sign is allowed";

  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  size_t i = 0;
  while (i < s.size() && IsDigit(s[i])) {
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (out->whole > (kMax - digit) / 10) return "too large";
    out->whole = out->whole * 10 + digit;
    ++i;
  }
  const bool has_whole = i > 0;
  if (i < s.size() && s[i] == '.') {
    out->has_point = true;
    ++i;
    int decimals = 0;
    while (i < s.size() && IsDigit(s[i])) {
      if (++decimals > kMaxDecimals) return "at most 6 decimal places";
      out->fraction = out->fraction * 10 + static_cast<uint64_t>(s[i] - '0');
      out->scale *= 10;
      ++i;
    }
    if (decimals == 0) return "a decimal point needs digits after it";
  }
  if (!has_whole) return "expected a number";
  while (i < s.size() && IsBlank(s[i])) ++i;
  out->unit = s.substr(i);
  return "";
}

// ---- sizes ----

struct SizeUnit {
  char letter;
  int shift;
};
// Largest first: FormatBytes takes the first unit the value reaches.
constexpr std::array<SizeUnit, 4> kSizeUnits{{{'T', 40}, {'G', 30}, {'M', 20}, {'K', 10}}};

Status BadSize(std::string_view text, std::string_view why) {
  return InvalidArgument("invalid size \"" + std::string(text) + "\": " + std::string(why),
                         std::string(kSizeHint));
}

// Shift for a unit ("", "B", "K", "KB", "KiB", any case); -1 when unknown.
int SizeShift(std::string_view unit) {
  const std::string s = Lower(unit);
  if (s.empty() || s == "b") return 0;
  const std::string_view rest = std::string_view(s).substr(1);
  if (!rest.empty() && rest != "b" && rest != "ib") return -1;
  for (const SizeUnit& u : kSizeUnits) {
    if (s[0] == std::tolower(static_cast<unsigned char>(u.letter))) return u.shift;
  }
  return -1;
}

// ---- durations ----

struct DurationUnit {
  std::string_view name;
  int64_t ms;
};
constexpr std::array<DurationUnit, 6> kDurationUnits{{{"ms", 1},
                                                      {"s", kMsPerSecond},
                                                      {"m", kMsPerMinute},
                                                      {"h", kMsPerHour},
                                                      {"d", kMsPerDay},
                                                      {"w", 7 * kMsPerDay}}};

std::string DurationHint(BareUnit bare) {
  return std::string(
             "write a number with a unit (ms, s, m, h, d or w), e.g. 1500ms, 90s, 1.5m, "
             "2h, 7d; a bare number is ") +
         (bare == BareUnit::kSeconds ? "seconds" : "milliseconds");
}

// For values kept in whole seconds: milliseconds are accepted but not suggested.
constexpr std::string_view kSecondsHint =
    "write whole seconds or a number with a unit (s, m, h, d or w), e.g. 90, 90s, 1.5m, 2h, 7d";

Status BadDuration(std::string_view text, std::string_view why, std::string hint) {
  return InvalidArgument("invalid duration \"" + std::string(text) + "\": " + std::string(why),
                         std::move(hint));
}

// ParseDurationMs with the hint its errors carry.
Result<int64_t> ReadDurationMs(std::string_view text, BareUnit bare, const std::string& hint) {
  Number n;
  if (std::string why = ReadNumber(text, &n); !why.empty()) return BadDuration(text, why, hint);
  int64_t unit_ms = 0;
  if (n.unit.empty()) {
    if (n.has_point) return BadDuration(text, "a fraction needs a unit", hint);
    unit_ms = static_cast<int64_t>(bare);
  } else {
    const std::string unit = Lower(n.unit);
    for (const DurationUnit& u : kDurationUnits) {
      if (unit == u.name) unit_ms = u.ms;
    }
    if (unit_ms == 0) {
      return BadDuration(
          text, "unknown unit \"" + std::string(n.unit) + "\" (use ms, s, m, h, d or w)", hint);
    }
    if (n.has_point && unit_ms == 1) return BadDuration(text, "milliseconds must be whole", hint);
  }
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  const auto unit = static_cast<uint64_t>(unit_ms);
  if (n.whole > kMax / unit) return BadDuration(text, "too large", hint);
  const uint64_t ms = n.whole * unit;
  // fraction < scale ≤ 10^6 and the unit ≤ 7 days (< 2^30 ms), so the product stays below 2^50.
  const uint64_t extra = n.fraction * unit / n.scale;
  if (ms > kMax - extra) return BadDuration(text, "too large", hint);
  return static_cast<int64_t>(ms + extra);
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  Number n;
  if (std::string why = ReadNumber(text, &n); !why.empty()) return BadSize(text, why);
  const int shift = SizeShift(n.unit);
  if (shift < 0) {
    return BadSize(text, "unknown unit \"" + std::string(n.unit) + "\" (use B, K, M, G or T)");
  }
  if (n.has_point && shift == 0) return BadSize(text, "a byte count must be whole");
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (shift > 0 && n.whole > (kMax >> shift)) return BadSize(text, "too large");
  const uint64_t bytes = n.whole << shift;
  // fraction < scale ≤ 10^6 and the unit ≤ 2^40, so the product stays below 2^60.
  const uint64_t extra = (n.fraction << shift) / n.scale;
  if (bytes > kMax - extra) return BadSize(text, "too large");
  return bytes + extra;
}

std::string FormatBytes(uint64_t bytes) {
  for (const SizeUnit& u : kSizeUnits) {
    const uint64_t unit = uint64_t{1} << u.shift;
    if (bytes < unit) continue;
    const uint64_t whole = bytes / unit;
    // Tenths, truncated: (remainder * 10) / unit without overflow, since remainder < unit ≤ 2^40.
    const uint64_t tenths = (bytes % unit) * 10 / unit;
    std::string out = std::to_string(whole);
    if (tenths != 0) out += "." + std::to_string(tenths);
    out.push_back(u.letter);
    return out;
  }
  return std::to_string(bytes) + "B";
}

Result<int64_t> ParseDurationMs(std::string_view text, BareUnit bare) {
  return ReadDurationMs(text, bare, DurationHint(bare));
}

Result<int64_t> ParseDurationSecs(std::string_view text) {
  const std::string hint(kSecondsHint);
  POPULI_ASSIGN_OR_RETURN(int64_t ms, ReadDurationMs(text, BareUnit::kSeconds, hint));
  if (ms % kMsPerSecond != 0) return BadDuration(text, "not a whole number of seconds", hint);
  return ms / kMsPerSecond;
}

std::string FormatDuration(int64_t ms) {
  // The magnitude as unsigned, so INT64_MIN has one too.
  const uint64_t magnitude =
      ms < 0 ? uint64_t{0} - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  const std::string sign = ms < 0 ? "-" : "";
  // Largest first; weeks are left out: "14d" reads better than "2w".
  for (auto it = kDurationUnits.rbegin() + 1; it != kDurationUnits.rend(); ++it) {
    const auto unit = static_cast<uint64_t>(it->ms);
    if (magnitude >= unit || it->ms == 1) {
      return sign + std::to_string(magnitude / unit) + std::string(it->name);
    }
  }
  return sign + std::to_string(magnitude) + "ms";  // not reached: the loop ends at ms
}

}  // namespace populi
