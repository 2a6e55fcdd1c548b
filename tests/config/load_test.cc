// Layer resolution, origins, file validation and the secret/permission rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "config/test_files.h"

namespace populi::config {
namespace {

using ::populi::testing::TempDir;
using ::populi::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

class LoadTest : public ::testing::Test {
 protected:
  LoadTest() {
    opts_.cwd = dir_.Sub("ws/a/b");
    std::filesystem::create_directories(opts_.cwd);
    opts_.vox_home = dir_.Sub("home");
    opts_.use_process_env = false;
  }
  std::string Workspace() const { return dir_.Sub("ws/Vox.toml"); }
  std::string User() const { return dir_.Sub("home/config.toml"); }
  void WriteWorkspace(const std::string& text) { WriteFile(Workspace(), text); }
  void WriteUser(const std::string& text, mode_t mode = 0600) { WriteFile(User(), text, mode); }

  // The only error Check reports; fails the test when there is not exactly one.
  Diagnostic OnlyError() {
    std::vector<Diagnostic> diags;
    auto cfg = Check(opts_, &diags);
    EXPECT_FALSE(cfg.ok());
    std::vector<Diagnostic> errors;
    for (const auto& d : diags) {
      if (d.error) errors.push_back(d);
    }
    EXPECT_EQ(errors.size(), 1u);
    return errors.empty() ? Diagnostic{} : errors.front();
  }

  TempDir dir_;
  LoadOptions opts_;
};

TEST_F(LoadTest, DefaultsWhenNothingIsConfigured) {
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->GetInt("mesh.control.heartbeat_secs"), 2);
  EXPECT_EQ(cfg->GetString("mesh.control.bind"), "127.0.0.1:9847");
  EXPECT_EQ(cfg->GetDurationSecs("mesh.store.retention"), 7 * 86400);
  EXPECT_EQ(cfg->GetList("mesh.probe.order"),
            (std::vector<std::string>{"hwloc", "nvml", "linux_drm", "vulkan"}));
  EXPECT_EQ(cfg->OriginOf("mesh.control.heartbeat_secs").source, Source::kDefault);
  EXPECT_EQ(cfg->workspace_file(), "");
  EXPECT_EQ(cfg->vox_home(), dir_.Sub("home"));
  EXPECT_EQ(cfg->data_dir(), dir_.Sub("home") + "/populi");
  EXPECT_TRUE(cfg->diagnostics().empty());
}

TEST_F(LoadTest, WorkspaceFileIsFoundByWalkingUpWithLineAndColumn) {
  WriteWorkspace("[package]\nname = \"x\"\n\n[mesh.control]\nheartbeat_secs = 7\n");
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->workspace_file(), Workspace());
  EXPECT_EQ(cfg->GetInt("mesh.control.heartbeat_secs"), 7);
  const Origin& o = cfg->OriginOf("mesh.control.heartbeat_secs");
  EXPECT_EQ(o.source, Source::kWorkspace);
  EXPECT_EQ(o.file, Workspace());
  EXPECT_EQ(o.line, 5);
  EXPECT_EQ(o.column, 18);
}

TEST_F(LoadTest, EachLaterLayerWins) {
  WriteWorkspace("[mesh.control]\nheartbeat_secs = 3\nsuspect_after = 4\n");
  WriteUser("[mesh.control]\nheartbeat_secs = 4\n");
  opts_.env["VOX_MESH_CONTROL_HEARTBEAT_SECS"] = "5";
  opts_.flags["mesh.control.heartbeat_secs"] = "6";

  auto all = Load(opts_);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->GetInt("mesh.control.heartbeat_secs"), 6);
  EXPECT_EQ(all->OriginOf("mesh.control.heartbeat_secs").source, Source::kFlag);
  EXPECT_EQ(all->GetInt("mesh.control.suspect_after"), 4);  // only the workspace set it
  EXPECT_EQ(all->OriginOf("mesh.control.suspect_after").source, Source::kWorkspace);

  opts_.flags.clear();
  auto env = Load(opts_);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->GetInt("mesh.control.heartbeat_secs"), 5);
  EXPECT_EQ(env->OriginOf("mesh.control.heartbeat_secs").source, Source::kEnv);
  EXPECT_EQ(env->OriginOf("mesh.control.heartbeat_secs").env_name,
            "VOX_MESH_CONTROL_HEARTBEAT_SECS");

  opts_.env.clear();
  auto user = Load(opts_);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->GetInt("mesh.control.heartbeat_secs"), 4);
  EXPECT_EQ(user->OriginOf("mesh.control.heartbeat_secs").source, Source::kUser);
  EXPECT_EQ(user->OriginOf("mesh.control.heartbeat_secs").file, User());
  EXPECT_EQ(user->OriginOf("mesh.control.heartbeat_secs").line, 2);

  std::filesystem::remove(User());
  auto workspace = Load(opts_);
  ASSERT_TRUE(workspace.ok());
  EXPECT_EQ(workspace->GetInt("mesh.control.heartbeat_secs"), 3);
  EXPECT_EQ(workspace->OriginOf("mesh.control.heartbeat_secs").source, Source::kWorkspace);
}

TEST_F(LoadTest, SecretInWorkspaceIsRefusedWithoutEchoingIt) {
  WriteWorkspace("[mesh]\nenabled = true\n\n[mesh.auth]\nadmin_token = \"s3cr3t-value\"\n");
  Diagnostic d = OnlyError();
  EXPECT_THAT(d.message, HasSubstr("mesh.auth.admin_token is a secret"));
  EXPECT_THAT(d.ToString(), Not(HasSubstr("s3cr3t-value")));
  EXPECT_THAT(d.hint, HasSubstr(User()));
  EXPECT_THAT(d.hint, HasSubstr("VOX_MESH_AUTH_ADMIN_TOKEN"));
  EXPECT_EQ(d.file, Workspace());
  EXPECT_EQ(d.line, 5);

  auto cfg = Load(opts_);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(cfg.status().message(), HasSubstr(Workspace() + ":5:"));
  EXPECT_THAT(cfg.status().ToString(), Not(HasSubstr("s3cr3t-value")));
}

TEST_F(LoadTest, MeshTokenInWorkspaceIsRefusedToo) {
  WriteWorkspace("[mesh]\ntoken = \"abc\"\n");
  EXPECT_THAT(OnlyError().message, HasSubstr("mesh.token is a secret"));
}

// The PostgreSQL store's connection string may carry a password: a secret like the tokens.
TEST_F(LoadTest, StoreDsnInWorkspaceIsRefusedButComesFromTheEnvironment) {
  WriteWorkspace("[mesh.store]\nbackend = \"postgres\"\ndsn = \"host=db password=pw-value\"\n");
  Diagnostic d = OnlyError();
  EXPECT_THAT(d.message, HasSubstr("mesh.store.dsn is a secret"));
  EXPECT_THAT(d.ToString(), Not(HasSubstr("pw-value")));
  EXPECT_THAT(d.hint, HasSubstr("VOX_MESH_STORE_DSN"));

  WriteWorkspace("[mesh.store]\nbackend = \"postgres\"\n");
  opts_.env["VOX_MESH_STORE_DSN"] = "host=db password=pw-value";
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->GetString("mesh.store.backend"), "postgres");
  EXPECT_EQ(cfg->GetString("mesh.store.dsn"), "host=db password=pw-value");
  EXPECT_EQ(cfg->OriginOf("mesh.store.dsn").source, Source::kEnv);
  EXPECT_EQ(cfg->GetString("mesh.store.schema"), "populi");
}

TEST_F(LoadTest, SecretsLoadFromPrivateUserConfig) {
  WriteUser("[mesh]\ntoken = \"t1\"\n[mesh.auth]\nadmin_token = \"a1\"\n", 0600);
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->GetString("mesh.token"), "t1");
  EXPECT_EQ(cfg->GetString("mesh.auth.admin_token"), "a1");
  EXPECT_EQ(cfg->OriginOf("mesh.auth.admin_token").source, Source::kUser);
}

TEST_F(LoadTest, UserConfigReadableByOthersIsRefusedWithChmodHint) {
  WriteUser("[mesh]\nenabled = true\n", 0644);
  auto cfg = Load(opts_);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(cfg.status().message(), HasSubstr("mode 0644"));
  EXPECT_EQ(cfg.status().hint(), "run: chmod 600 " + User());

  chmod(User().c_str(), 0400);  // stricter than 0600 is fine
  EXPECT_TRUE(Load(opts_).ok());
}

TEST_F(LoadTest, UnknownKeyWarnsWithClosestKnownKey) {
  WriteWorkspace("[mesh.control]\nheartbeat_sec = 2\n\n[mesh]\nqqqzzz = 1\n");
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_EQ(cfg->diagnostics().size(), 2u);
  const Diagnostic& close = cfg->diagnostics()[0];
  EXPECT_FALSE(close.error);
  EXPECT_EQ(close.message, "unknown key mesh.control.heartbeat_sec");
  EXPECT_EQ(close.hint, "did you mean mesh.control.heartbeat_secs?");
  EXPECT_EQ(close.line, 2);
  EXPECT_EQ(close.column, 1);
  EXPECT_EQ(cfg->diagnostics()[1].hint, "see docs/config.md for the known keys");
}

TEST_F(LoadTest, LegacyFlatKeySuggestsNestedKey) {
  WriteWorkspace("[mesh]\ncontrol_url = \"http://x:1\"\n");
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok());
  ASSERT_EQ(cfg->diagnostics().size(), 1u);
  EXPECT_EQ(cfg->diagnostics()[0].hint, "did you mean mesh.control.url?");
}

TEST_F(LoadTest, WrongTypeIsAnErrorWithPathLineColumn) {
  WriteWorkspace("[mesh.control]\n\nheartbeat_secs = \"fast\"\n");
  Diagnostic d = OnlyError();
  EXPECT_EQ(d.message, "mesh.control.heartbeat_secs must be integer, found a string");
  EXPECT_EQ(d.ToString(),
            Workspace() + ":3:18: mesh.control.heartbeat_secs must be integer, found a string");
  EXPECT_THAT(d.hint, HasSubstr("heartbeat_secs = 2"));
}

TEST_F(LoadTest, OutOfRangeIsAnErrorWithPosition) {
  WriteUser("[mesh.control]\nexec_lease_ttl_secs = 0\n");
  Diagnostic d = OnlyError();
  EXPECT_EQ(d.file, User());
  EXPECT_EQ(d.line, 2);
  EXPECT_THAT(d.message, HasSubstr("out of range"));
  EXPECT_EQ(d.hint, "use a value from 1 to 3600");
}

TEST_F(LoadTest, ValueOutsideAllowedSetNamesTheChoices) {
  WriteWorkspace("[mesh.store]\ndurability = \"sometimes\"\n");
  EXPECT_EQ(OnlyError().hint, "use one of: full,buffered");
}

TEST_F(LoadTest, DurationsAndSizesAcceptUnitsInFiles) {
  WriteWorkspace(
      "[mesh.store]\nretention = \"1.5h\"\n[mesh.control.http]\nmax_body_bytes = \"1M\"\n"
      "[mesh.donation]\nreserve_memory = 4096\nreserve_vram = \"1.5G\"\n");
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->GetDurationSecs("mesh.store.retention"), 5400);
  EXPECT_EQ(cfg->GetBytes("mesh.control.http.max_body_bytes"), 1 << 20);
  EXPECT_EQ(cfg->GetBytes("mesh.donation.reserve_memory"), 4096);
  EXPECT_EQ(cfg->GetBytes("mesh.donation.reserve_vram"), int64_t{3} << 29);
}

TEST_F(LoadTest, BadDurationStringIsAnErrorWithPosition) {
  WriteWorkspace("[mesh.store]\nretention = \"7 fortnights\"\n");
  Diagnostic d = OnlyError();
  EXPECT_EQ(d.line, 2);
  EXPECT_THAT(d.message, HasSubstr("invalid duration \"7 fortnights\""));
  EXPECT_THAT(d.message, HasSubstr("unknown unit \"fortnights\""));
  EXPECT_THAT(d.hint, HasSubstr("90s"));
}

TEST_F(LoadTest, CheckCollectsEveryProblem) {
  WriteWorkspace("[mesh.control]\nheartbeat_secs = true\nbind = 5\nheartbeat_sec = 1\n");
  std::vector<Diagnostic> diags;
  auto cfg = Check(opts_, &diags);
  EXPECT_FALSE(cfg.ok());
  int errors = 0, warnings = 0;
  for (const auto& d : diags) (d.error ? errors : warnings)++;
  EXPECT_EQ(errors, 2);
  EXPECT_EQ(warnings, 1);
}

TEST_F(LoadTest, TomlSyntaxErrorHasPosition) {
  WriteWorkspace("[mesh]\nenabled = \n");
  Diagnostic d = OnlyError();
  EXPECT_EQ(d.file, Workspace());
  EXPECT_EQ(d.line, 2);
}

TEST_F(LoadTest, DownAfterMustExceedSuspectAfter) {
  WriteWorkspace("[mesh.control]\nsuspect_after = 5\ndown_after = 5\n");
  Diagnostic d = OnlyError();
  EXPECT_THAT(d.message, HasSubstr("must be greater than mesh.control.suspect_after"));
  EXPECT_EQ(d.line, 3);
}

TEST_F(LoadTest, TlsCertNeedsKey) {
  WriteWorkspace("[mesh.tls]\ncert_path = \"/etc/c.pem\"\n");
  EXPECT_THAT(OnlyError().message, HasSubstr("must be set together"));
}

TEST_F(LoadTest, LabelsMustBeKeyValue) {
  WriteWorkspace("[mesh]\nlabels = [\"gpu=a100\", \"fast\"]\n");
  EXPECT_THAT(OnlyError().message, HasSubstr("\"fast\" is not key=value"));
}

TEST_F(LoadTest, RelativeStorePathIsRelativeToItsFile) {
  WriteWorkspace("[mesh.store]\npath = \"state\"\n");
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->data_dir(), dir_.Sub("ws/state"));
}

TEST_F(LoadTest, UnknownFlagKeyIsAnError) {
  opts_.flags["mesh.control.heartbeat"] = "3";
  auto cfg = Load(opts_);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().hint(), "did you mean mesh.control.heartbeat_secs?");
}

TEST_F(LoadTest, SectionWrittenAsAValueIsAnError) {
  WriteWorkspace("[mesh]\ncontrol = \"http://x:1\"\n");
  Diagnostic d = OnlyError();
  EXPECT_EQ(d.message, "mesh.control must be a table, found a string");
  EXPECT_EQ(d.line, 2);
}

TEST_F(LoadTest, OldMensTableIsNamedInAWarning) {
  WriteWorkspace("[mens]\ncontrol_url = \"http://x\"\n");
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok());
  ASSERT_EQ(cfg->diagnostics().size(), 1u);
  EXPECT_EQ(cfg->diagnostics()[0].hint, "rename it to [mesh]");
}

}  // namespace
}  // namespace populi::config
