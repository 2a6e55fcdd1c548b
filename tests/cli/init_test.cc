// `vox populi init`, run as the real binary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace populi::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using InitTest = CliTest;

TEST_F(InitTest, CreatesStarterBlockAndPrivateTokenThenChangesNothing) {
  VoxRun first = Vox({"populi", "init"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::string workspace = ReadFile(Workspace());
  std::string user = ReadFile(User());
  EXPECT_THAT(workspace, HasSubstr("[mesh]"));
  EXPECT_THAT(workspace, HasSubstr("# "));  // commented
  EXPECT_THAT(workspace, Not(HasSubstr("token")));
  EXPECT_THAT(user, HasSubstr("admin_token = \""));
  EXPECT_EQ(ModeOf(User()), 0600u);
  EXPECT_EQ(ModeOf(dir_.Sub("home")), 0700u);
  EXPECT_THAT(first.out, Not(HasSubstr(user.substr(user.find("admin_token = \"") + 15, 64))))
      << "the token itself is never printed";

  VoxRun second = Vox({"populi", "init"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(ReadFile(Workspace()), workspace);
  EXPECT_EQ(ReadFile(User()), user);
  EXPECT_THAT(second.out, HasSubstr("already"));

  // What init wrote passes the checker, and the token resolves from the user config.
  VoxRun check = Vox({"populi", "config", "check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  VoxRun show = Vox({"populi", "config", "show"});
  EXPECT_THAT(show.out, HasSubstr(User() + ":"));
}

TEST_F(InitTest, RefusesToReplaceADifferentMeshBlockWithoutForce) {
  WriteFile(Workspace(), "[mesh]\nenabled = false\n");
  VoxRun refused = Vox({"populi", "init"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, StartsWith("error: " + Workspace() + " already has a [mesh] block"));
  EXPECT_THAT(refused.err, HasSubstr("hint: "));
  EXPECT_THAT(refused.err, HasSubstr("--force"));
  EXPECT_EQ(ReadFile(Workspace()), "[mesh]\nenabled = false\n");

  VoxRun forced = Vox({"populi", "init", "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(ReadFile(Workspace() + ".bak"), "[mesh]\nenabled = false\n");
  EXPECT_THAT(ReadFile(Workspace()), HasSubstr("exec = \"strict\""));
}

TEST_F(InitTest, AppendsToAVoxTomlWithoutMesh) {
  WriteFile(Workspace(), "[package]\nname = \"demo\"\n");
  VoxRun run = Vox({"populi", "init"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string text = ReadFile(Workspace());
  EXPECT_THAT(text, StartsWith("[package]\nname = \"demo\"\n"));
  EXPECT_THAT(text, HasSubstr("[mesh]"));
}

TEST_F(InitTest, KeepsAnExistingAdminToken) {
  WriteFile(User(), "[mesh.auth]\nadmin_token = \"keep-me\"\n", 0600);
  VoxRun run = Vox({"populi", "init"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string user = ReadFile(User());
  EXPECT_THAT(user, HasSubstr("admin_token = \"keep-me\""));
  EXPECT_THAT(user, HasSubstr("token = \"keep-me\""));  // mesh.token follows the admin token
  EXPECT_EQ(user.find("admin_token", user.find("admin_token") + 1), std::string::npos);
}

TEST_F(InitTest, RefusesAUserConfigOthersCanRead) {
  WriteFile(User(), "[mesh]\nenabled = true\n", 0644);
  VoxRun run = Vox({"populi", "init"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("hint: run: chmod 600 " + User()));
  EXPECT_FALSE(std::filesystem::exists(Workspace())) << "nothing is written after a refusal";
}

}  // namespace
}  // namespace populi::testing
