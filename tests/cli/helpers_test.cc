// The CLI core helpers verbs share: exit codes, error output, control URL, tables, times.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "cli/verb.h"
#include "config/test_files.h"

namespace populi::cli {
namespace {

using ::testing::HasSubstr;

TEST(HelpersTest, ExitCodesFollowTheDocumentedTable) {
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(NotFound("x", "a test hint")), 1);
  EXPECT_EQ(ExitCodeFor(InvalidArgument("x", "a test hint")), 1);
  EXPECT_EQ(ExitCodeFor(Unavailable("x", "a test hint")), 3);
  EXPECT_EQ(ExitCodeFor(Status(Code::kTimeout, "x", "a test hint")), 3);
  EXPECT_EQ(ExitCodeFor(Status(Code::kUnauthenticated, "x", "a test hint")), 4);
  EXPECT_EQ(ExitCodeFor(Status(Code::kPermissionDenied, "x", "a test hint")), 4);
}

TEST(HelpersTest, FailPrintsErrorAndHintOrJson) {
  std::ostringstream out, err;
  Context ctx;
  ctx.out = &out;
  ctx.err = &err;
  EXPECT_EQ(ctx.Fail(Unavailable("control plane at http://x is down", "start it")), 3);
  EXPECT_EQ(err.str(), "error: control plane at http://x is down\nhint: start it\n");

  std::ostringstream json_err;
  ctx.err = &json_err;
  ctx.global.json = true;
  EXPECT_EQ(ctx.FailUsage("bad flags", "see --help"), 2);
  boost::json::value doc = boost::json::parse(json_err.str());
  EXPECT_EQ(doc.at("error").at("code").as_string(), "invalid_argument");
  EXPECT_EQ(doc.at("error").at("hint").as_string(), "see --help");
  EXPECT_EQ(ctx.exit_code, 2);
}

TEST(HelpersTest, WarningsPrintOnce) {
  std::ostringstream out, err;
  Context ctx;
  ctx.out = &out;
  ctx.err = &err;
  ctx.Warn("old name", "use the new one");
  ctx.Warn("old name", "use the new one");
  EXPECT_EQ(err.str(), "warning: old name\nhint: use the new one\n");
}

TEST(HelpersTest, ControlUrlComesFromFlagThenConfigThenServeFile) {
  populi::testing::TempDir dir;
  config::LoadOptions opts;
  opts.cwd = dir.path();
  opts.vox_home = dir.Sub("home");
  opts.use_process_env = false;
  std::ostringstream out, err;
  Context ctx;
  ctx.out = &out;
  ctx.err = &err;

  auto bare = config::Load(opts);
  ASSERT_TRUE(bare.ok());
  auto none = ResolveControlUrl(ctx, *bare);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(ExitCodeFor(none.status()), kExitUnreachable);
  EXPECT_THAT(none.status().hint(), HasSubstr("vox populi serve"));

  populi::testing::WriteFile(ControlUrlFile(*bare), "http://127.0.0.1:40001\n");
  EXPECT_EQ(*ResolveControlUrl(ctx, *bare), "http://127.0.0.1:40001");

  opts.env["VOX_MESH_CONTROL_URL"] = "http://10.0.0.5:9847";
  auto configured = config::Load(opts);
  ASSERT_TRUE(configured.ok());
  EXPECT_EQ(*ResolveControlUrl(ctx, *configured), "http://10.0.0.5:9847");

  ctx.global.control_url = "http://flag:1";
  EXPECT_EQ(*ResolveControlUrl(ctx, *configured), "http://flag:1");
}

TEST(HelpersTest, RelativeTimes) {
  const int64_t now = 1'000'000'000;
  EXPECT_EQ(RelativeTime(now, now), "just now");
  EXPECT_EQ(RelativeTime(now - 12'000, now), "12s ago");
  EXPECT_EQ(RelativeTime(now - 3 * 60'000 - 5'000, now), "3m ago");
  EXPECT_EQ(RelativeTime(now - 5 * 3'600'000, now), "5h ago");
  EXPECT_EQ(RelativeTime(now - 2 * 86'400'000, now), "2d ago");
  EXPECT_EQ(RelativeTime(now + 30'000, now), "in 30s");
}

TEST(HelpersTest, TablesAlignColumns) {
  EXPECT_EQ(RenderTable({"NODE", "STATE"}, {{"alpha", "up"}, {"b", "suspect"}, {"c"}}),
            "NODE   STATE\n"
            "alpha  up\n"
            "b      suspect\n"
            "c\n");
}

// Widths count screen columns, not bytes: "×" is two bytes and one column.
TEST(HelpersTest, TablesAlignNonAsciiCellsByScreenColumns) {
  EXPECT_EQ(DisplayWidth("2× H100"), 7u);
  EXPECT_EQ(RenderTable({"GPUS", "NODE"}, {{"2× H100", "a"}, {"1× L4", "b"}}),
            "GPUS     NODE\n"
            "2× H100  a\n"
            "1× L4    b\n");
  Context ctx;  // not a terminal: no escape codes
  EXPECT_EQ(RenderColoredTable(ctx, {"GPUS", "STATE"}, {{"2× H100", "up"}}, 1, {Color::kGreen}),
            "GPUS     STATE\n"
            "2× H100  up\n");
}

TEST(HelpersTest, PaintIsPlainOffTerminal) {
  std::ostringstream out;
  Context ctx;
  ctx.out = &out;
  EXPECT_FALSE(ctx.UseColor());
  EXPECT_EQ(Paint(ctx, Color::kRed, "down"), "down");
}

}  // namespace
}  // namespace populi::cli
