// Human-readable sizes for placement summaries and the CLI. Every unit is binary: K = 2^10,
// M = 2^20, G = 2^30, T = 2^40, whichever way it is spelled ("12G", "12GB", "12GiB", "12g").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace populi::scheduler {

// "12G", "512M", "1.5G", "7.4G", "900K", "512B", "0B". The largest unit that gives at least 1 is
// used; a fraction keeps one decimal, truncated (never rounded up: "best 11.9G free" must not
// read as 12G), and a ".0" is dropped.
std::string FormatBytes(uint64_t bytes);

// Reads "1024" (bytes), "512M", "12G", "8GiB", "1.5G", "2T", "64K", "100B". Surrounding blank
// space is ignored. A fraction needs a unit and at most 6 decimal places; the result is floored
// to whole bytes. Errors (InvalidArgument, with a hint showing accepted forms): empty input, a
// sign, an unknown unit, a fraction of a plain byte count, a value over 2^64 − 1.
Result<uint64_t> ParseSize(std::string_view text);

}  // namespace populi::scheduler
