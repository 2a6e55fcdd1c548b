// The process logger of `serve` and `join`, configured by [mesh.observability]: `log_level`
// (trace, debug, info, warn, error) and `log_format` (text: spdlog's default line; json: one JSON
// object per line with ts, level, logger and msg, every string escaped).
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "util/status.h"

namespace spdlog {
class logger;
namespace sinks {
class sink;
}
}  // namespace spdlog

namespace populi::cli {

// A logger named `name` writing to `sink` (stderr when null) at `level` in `format`.
// kInvalidArgument (with a hint) for an unknown level or format.
Result<std::shared_ptr<spdlog::logger>> MakeLogger(const std::string& name,
                                                   const std::string& level,
                                                   const std::string& format,
                                                   std::shared_ptr<spdlog::sinks::sink> sink = {});

// MakeLogger from the configuration's mesh.observability keys.
Result<std::shared_ptr<spdlog::logger>> MakeProcessLogger(const config::Config& cfg,
                                                          const std::string& name);

}  // namespace populi::cli
