#include "cli/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <chrono>

namespace populi::cli {
namespace {

// One JSON object per record: {"ts":"…Z","level":"info","logger":"vox-serve","msg":"…"}.
class JsonLinesFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char ts[40];
    const size_t n = std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    std::string line = "{\"ts\":\"" + std::string(ts, n) + "." + Pad3(ms % 1000) + "Z\",\"level\":";
    const auto level = spdlog::level::to_string_view(msg.level);
    line += boost::json::serialize(boost::json::string(level.data(), level.size()));
    line += ",\"logger\":";
    line +=
        boost::json::serialize(boost::json::string(msg.logger_name.data(), msg.logger_name.size()));
    line += ",\"msg\":";
    line += boost::json::serialize(boost::json::string(msg.payload.data(), msg.payload.size()));
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLinesFormatter>();
  }

 private:
  static std::string Pad3(int64_t v) {
    std::string s = std::to_string(v);
    return std::string(3 - std::min<size_t>(3, s.size()), '0') + s;
  }
};

}  // namespace

Result<std::shared_ptr<spdlog::logger>> MakeLogger(const std::string& name,
                                                   const std::string& level,
                                                   const std::string& format,
                                                   std::shared_ptr<spdlog::sinks::sink> sink) {
  const spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  // from_str maps anything unknown to off; only "off" itself may mean off.
  if (level != "trace" && level != "debug" && level != "info" && level != "warn" &&
      level != "error") {
    return InvalidArgument("log level '" + level + "' is unknown",
                           "set mesh.observability.log_level to trace, debug, info, warn or error");
  }
  if (format != "text" && format != "json") {
    return InvalidArgument("log format '" + format + "' is unknown",
                           "set mesh.observability.log_format to text or json");
  }
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  logger->set_level(lvl);
  if (format == "json") logger->set_formatter(std::make_unique<JsonLinesFormatter>());
  return logger;
}

Result<std::shared_ptr<spdlog::logger>> MakeProcessLogger(const config::Config& cfg,
                                                          const std::string& name) {
  return MakeLogger(name, cfg.GetString("mesh.observability.log_level"),
                    cfg.GetString("mesh.observability.log_format"));
}

}  // namespace populi::cli
