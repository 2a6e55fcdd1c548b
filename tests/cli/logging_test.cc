// The process logger: level and format from [mesh.observability].
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <sstream>
#include <string>

#include "cli/logging.h"

namespace populi::cli {
namespace {

TEST(ProcessLogger, LevelDropsLowerRecords) {
  std::ostringstream out;
  auto logger =
      MakeLogger("t", "warn", "text", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  ASSERT_TRUE(logger.ok()) << logger.status().ToString();
  (*logger)->info("quiet");
  (*logger)->warn("loud");
  (*logger)->flush();
  EXPECT_EQ(out.str().find("quiet"), std::string::npos);
  EXPECT_NE(out.str().find("loud"), std::string::npos);
}

TEST(ProcessLogger, JsonFormatWritesOneEscapedObjectPerLine) {
  std::ostringstream out;
  auto logger = MakeLogger("vox-serve", "info", "json",
                           std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  ASSERT_TRUE(logger.ok());
  (*logger)->info("a \"quoted\" value\nand a second line \\ {}", 7);
  (*logger)->error("two");
  (*logger)->flush();
  std::istringstream lines(out.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    const auto& o = v.as_object();
    EXPECT_EQ(o.at("logger").as_string(), "vox-serve");
    EXPECT_TRUE(o.at("ts").as_string().ends_with("Z"));
    if (count == 0) {
      EXPECT_EQ(o.at("level").as_string(), "info");
      EXPECT_EQ(o.at("msg").as_string(), "a \"quoted\" value\nand a second line \\ 7");
    } else {
      EXPECT_EQ(o.at("level").as_string(), "error");
    }
    ++count;
  }
  EXPECT_EQ(count, 2);
}

TEST(ProcessLogger, UnknownLevelOrFormatIsAClearError) {
  auto level = MakeLogger("t", "loud", "text");
  ASSERT_FALSE(level.ok());
  EXPECT_EQ(level.status().code(), Code::kInvalidArgument);
  EXPECT_NE(level.status().hint().find("log_level"), std::string::npos);
  auto format = MakeLogger("t", "info", "xml");
  ASSERT_FALSE(format.ok());
  EXPECT_NE(format.status().hint().find("log_format"), std::string::npos);
}

}  // namespace
}  // namespace populi::cli
