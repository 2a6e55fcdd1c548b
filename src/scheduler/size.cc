#include "scheduler/size.h"

#include <array>
#include <cctype>
#include <limits>

namespace populi::scheduler {

namespace {

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr int kMaxDecimals = 6;

struct Unit {
  char letter;
  int shift;
};
// Largest first: FormatBytes takes the first unit the value reaches.
constexpr std::array<Unit, 4> kUnits{{{'T', 40}, {'G', 30}, {'M', 20}, {'K', 10}}};

constexpr std::string_view kSizeHint =
    "write a byte count or a number with a binary unit, e.g. 1024, 512M, 12G, 8GiB, 1.5G";

Status BadSize(std::string_view text, std::string_view why) {
  return InvalidArgument("invalid size '" + std::string(text) + "': " + std::string(why),
                         std::string(kSizeHint));
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Shift for a unit suffix ("", "B", "K", "KB", "KiB", any case); -1 when unknown.
int UnitShift(std::string_view suffix) {
  std::string s;
  for (char c : suffix) s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (s.empty() || s == "b") return 0;
  const char letter = s[0];
  const std::string_view rest = std::string_view(s).substr(1);
  if (!rest.empty() && rest != "b" && rest != "ib") return -1;
  for (const Unit& u : kUnits) {
    if (letter == std::tolower(static_cast<unsigned char>(u.letter))) return u.shift;
  }
  return -1;
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  for (const Unit& u : kUnits) {
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
  static_assert(kKiB == 1024);
  return std::to_string(bytes) + "B";
}

Result<uint64_t> ParseSize(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && IsBlank(text[begin])) ++begin;
  while (end > begin && IsBlank(text[end - 1])) --end;
  const std::string_view s = text.substr(begin, end - begin);
  if (s.empty()) return BadSize(text, "empty");
  if (s[0] == '-' || s[0] == '+') return BadSize(text, "a size has no sign");

  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  size_t i = 0;
  uint64_t whole = 0;
  while (i < s.size() && IsDigit(s[i])) {
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (whole > (kMax - digit) / 10) return BadSize(text, "too large");
    whole = whole * 10 + digit;
    ++i;
  }
  const bool has_whole = i > 0;
  uint64_t fraction = 0;  // the decimals as an integer
  uint64_t scale = 1;     // 10^(number of decimals)
  bool has_point = false;
  if (i < s.size() && s[i] == '.') {
    has_point = true;
    ++i;
    int decimals = 0;
    while (i < s.size() && IsDigit(s[i])) {
      if (++decimals > kMaxDecimals) return BadSize(text, "at most 6 decimal places");
      fraction = fraction * 10 + static_cast<uint64_t>(s[i] - '0');
      scale *= 10;
      ++i;
    }
    if (decimals == 0) return BadSize(text, "a decimal point needs digits after it");
  }
  if (!has_whole) return BadSize(text, "expected a number");

  const int shift = UnitShift(s.substr(i));
  if (shift < 0) {
    return BadSize(text, "unknown unit '" + std::string(s.substr(i)) + "' (use B, K, M, G or T)");
  }
  if (has_point && shift == 0) return BadSize(text, "a byte count must be whole");
  if (shift > 0 && whole > (kMax >> shift)) return BadSize(text, "too large");
  uint64_t bytes = whole << shift;
  // fraction < scale ≤ 10^6 and the unit ≤ 2^40, so the product stays below 2^60.
  const uint64_t extra = (fraction << shift) / scale;
  if (bytes > kMax - extra) return BadSize(text, "too large");
  return bytes + extra;
}

}  // namespace populi::scheduler
