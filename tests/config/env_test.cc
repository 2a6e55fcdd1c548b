// Environment names: one per key, the earlier version's names with deprecation warnings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>

#include "config/config.h"
#include "config/test_files.h"

namespace populi::config {
namespace {

using ::populi::testing::TempDir;
using ::testing::HasSubstr;

// A valid value for `spec` that differs from its default, as env text.
std::string NonDefaultText(const KeySpec& spec) {
  switch (spec.type) {
    case Type::kBool:
      return spec.default_value == "true" ? "false" : "true";
    case Type::kInt:
    case Type::kDurationSecs:
    case Type::kBytes: {
      auto def = ParseValue(spec, spec.default_value);
      int64_t n = std::get<int64_t>(*def);
      return std::to_string(n + 1 <= spec.max ? n + 1 : n - 1);
    }
    case Type::kDouble:
      return "3.5";
    case Type::kString: {
      if (spec.allowed.empty()) return "value-for-" + std::string(spec.key);
      std::string_view allowed = spec.allowed;
      while (true) {
        size_t bar = allowed.find('|');
        std::string_view choice = allowed.substr(0, bar);
        if (choice != spec.default_value || bar == std::string_view::npos) {
          return std::string(choice);
        }
        allowed = allowed.substr(bar + 1);
      }
    }
    case Type::kStringList:
      if (spec.key == "mesh.labels") return "gpu=a100, site=home";
      if (!spec.allowed.empty()) return "nvml";
      return "one, two";
  }
  return "";
}

class EnvTest : public ::testing::Test {
 protected:
  EnvTest() {
    opts_.cwd = dir_.path();
    opts_.vox_home = dir_.Sub("home");
    opts_.use_process_env = false;
  }
  TempDir dir_;
  LoadOptions opts_;
};

TEST_F(EnvTest, EveryKeyIsSetByItsOwnVariable) {
  for (const KeySpec& spec : Schema()) {
    SCOPED_TRACE(std::string(spec.key));
    std::string expected_env = "VOX_MESH";
    for (char c : spec.key.substr(4)) {
      expected_env += c == '.' ? '_' : static_cast<char>(std::toupper(c));
    }
    ASSERT_EQ(spec.env, expected_env);

    opts_.env.clear();
    std::string text = NonDefaultText(spec);
    opts_.env[expected_env] = text;
    if (spec.key == "mesh.tls.cert_path") opts_.env["VOX_MESH_TLS_KEY_PATH"] = "/k.pem";
    if (spec.key == "mesh.tls.key_path") opts_.env["VOX_MESH_TLS_CERT_PATH"] = "/c.pem";
    auto cfg = Load(opts_);
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    const Origin& origin = cfg->OriginOf(spec.key);
    EXPECT_EQ(origin.source, Source::kEnv);
    EXPECT_EQ(origin.env_name, expected_env);
    auto expected = ParseValue(spec, text);
    ASSERT_TRUE(expected.ok());
    Config defaults;
    if (spec.allowed.find('|') != std::string_view::npos || spec.allowed.empty()) {
      EXPECT_NE(cfg->Render(spec.key), defaults.Render(spec.key));
    }
    if (spec.type == Type::kStringList) {
      EXPECT_EQ(cfg->GetList(spec.key), std::get<std::vector<std::string>>(*expected));
    }
  }
}

TEST_F(EnvTest, EarlierNamesStillWorkWithADeprecationWarning) {
  for (const LegacyEnv& legacy : LegacyEnvNames()) {
    SCOPED_TRACE(std::string(legacy.name));
    const KeySpec* spec = FindKey(legacy.key);
    ASSERT_NE(spec, nullptr);
    opts_.env.clear();
    std::string text = NonDefaultText(*spec);
    if (legacy.divide_by > 1) text = "90000";
    opts_.env[std::string(legacy.name)] = text;
    auto cfg = Load(opts_);
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    EXPECT_EQ(cfg->OriginOf(spec->key).env_name, legacy.name);
    if (legacy.divide_by > 1) {
      EXPECT_EQ(cfg->GetInt(spec->key), 90);
    } else {
      auto expected = ParseValue(*spec, text);
      ASSERT_TRUE(expected.ok());
      Config reference;
      reference.Set(spec->key, *expected, Origin{});
      EXPECT_EQ(cfg->Render(spec->key), reference.Render(spec->key));
    }
    ASSERT_EQ(cfg->diagnostics().size(), 1u);
    const Diagnostic& warning = cfg->diagnostics()[0];
    EXPECT_FALSE(warning.error);
    EXPECT_THAT(warning.message, HasSubstr(std::string(legacy.name) + " is deprecated; use " +
                                           std::string(spec->env)));
    EXPECT_THAT(warning.message, HasSubstr(std::string(spec->key)));
  }
}

TEST_F(EnvTest, EarlierControlAddrSetsControlUrl) {
  opts_.env["VOX_MESH_CONTROL_ADDR"] = "http://10.0.0.2:9847";
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->GetString("mesh.control.url"), "http://10.0.0.2:9847");
}

TEST_F(EnvTest, NewNameBeatsEarlierName) {
  opts_.env["VOX_MESH_EXEC_POLICY"] = "permissive";
  opts_.env["VOX_MESH_POLICY_EXEC"] = "strict";
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->GetString("mesh.policy.exec"), "strict");
  EXPECT_EQ(cfg->OriginOf("mesh.policy.exec").env_name, "VOX_MESH_POLICY_EXEC");
  ASSERT_EQ(cfg->diagnostics().size(), 1u);
  EXPECT_THAT(cfg->diagnostics()[0].message, HasSubstr("ignored because VOX_MESH_POLICY_EXEC"));
}

TEST_F(EnvTest, BadEnvValueNamesTheVariable) {
  opts_.env["VOX_MESH_CONTROL_HEARTBEAT_SECS"] = "soon";
  auto cfg = Load(opts_);
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(cfg.status().message(), HasSubstr("VOX_MESH_CONTROL_HEARTBEAT_SECS"));
  EXPECT_THAT(cfg.status().message(), HasSubstr("not an integer"));
}

TEST_F(EnvTest, EmptyVariableCountsAsUnset) {
  opts_.env["VOX_MESH_CONTROL_HEARTBEAT_SECS"] = "";
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->OriginOf("mesh.control.heartbeat_secs").source, Source::kDefault);
}

TEST_F(EnvTest, VoxHomeComesFromTheEnvironment) {
  opts_.vox_home.clear();
  opts_.env["VOX_HOME"] = dir_.Sub("elsewhere");
  auto cfg = Load(opts_);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->vox_home(), dir_.Sub("elsewhere"));
  EXPECT_EQ(cfg->data_dir(), dir_.Sub("elsewhere/populi"));

  opts_.env.erase("VOX_HOME");
  opts_.env["HOME"] = dir_.Sub("user");
  auto fallback = Load(opts_);
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ(fallback->vox_home(), dir_.Sub("user/.vox"));
}

}  // namespace
}  // namespace populi::config
