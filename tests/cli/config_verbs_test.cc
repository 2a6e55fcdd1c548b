// `vox populi config show|check|docs` and `vox config check`, run as the real binary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/cli_fixture.h"
#include "config/config.h"

namespace populi::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using ConfigVerbsTest = CliTest;

boost::json::object KeyEntry(const boost::json::value& doc, std::string_view key) {
  for (const auto& entry : doc.at("keys").as_array()) {
    if (entry.at("key").as_string() == key) return entry.as_object();
  }
  ADD_FAILURE() << "no entry for " << key;
  return {};
}

TEST_F(ConfigVerbsTest, ShowJsonGivesValueSourceAndPlaceAndMasksSecrets) {
  WriteFile(Workspace(), "[mesh.control]\nheartbeat_secs = 9\n");
  WriteFile(User(), "[mesh.auth]\nadmin_token = \"user-secret-1\"\n", 0600);
  env_.vars["VOX_MESH_AUTH_WORKER_TOKEN"] = "env-secret-2";
  env_.vars["VOX_MESH_STORE_DURABILITY"] = "buffered";
  VoxRun run = Vox({"populi", "config", "show", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, Not(HasSubstr("user-secret-1")));
  EXPECT_THAT(run.out, Not(HasSubstr("env-secret-2")));
  boost::json::value doc = boost::json::parse(run.out);

  auto heartbeat = KeyEntry(doc, "mesh.control.heartbeat_secs");
  EXPECT_EQ(heartbeat.at("value").as_int64(), 9);
  EXPECT_EQ(heartbeat.at("source").as_string(), "workspace");
  EXPECT_EQ(heartbeat.at("file").as_string(), Workspace());
  EXPECT_EQ(heartbeat.at("line").as_int64(), 2);

  auto admin = KeyEntry(doc, "mesh.auth.admin_token");
  EXPECT_EQ(admin.at("value").as_string(), "********");
  EXPECT_EQ(admin.at("source").as_string(), "user");
  auto worker = KeyEntry(doc, "mesh.auth.worker_token");
  EXPECT_EQ(worker.at("source").as_string(), "env");
  EXPECT_EQ(worker.at("env").as_string(), "VOX_MESH_AUTH_WORKER_TOKEN");
  EXPECT_TRUE(KeyEntry(doc, "mesh.auth.submitter_token").at("value").is_null());
  EXPECT_EQ(KeyEntry(doc, "mesh.store.durability").at("value").as_string(), "buffered");
  EXPECT_EQ(KeyEntry(doc, "mesh.probe.order").at("value").as_array().size(), 4u);
  EXPECT_EQ(KeyEntry(doc, "mesh.enabled").at("source").as_string(), "default");
  EXPECT_EQ(doc.at("data_dir").as_string(), dir_.Sub("home/populi"));
  EXPECT_EQ(doc.at("keys").as_array().size(), config::Schema().size());
}

TEST_F(ConfigVerbsTest, ShowTextNamesFileAndLine) {
  WriteFile(Workspace(), "[mesh]\n\nscope_id = \"lab\"\n");
  VoxRun run = Vox({"populi", "config", "show"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith("KEY"));
  EXPECT_THAT(run.out, HasSubstr("lab"));
  EXPECT_THAT(run.out, HasSubstr("workspace  " + Workspace() + ":3"));
}

TEST_F(ConfigVerbsTest, CheckPassesCleanConfigAndFailsWithPosition) {
  VoxRun clean = Vox({"populi", "config", "check"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_THAT(clean.out, HasSubstr("config ok"));

  WriteFile(Workspace(), "[mesh.control]\nheartbeat_secs = \"often\"\n");
  VoxRun bad = Vox({"populi", "config", "check"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr(Workspace() + ":2:18: error: mesh.control.heartbeat_secs must "
                                               "be integer, found a string"));
  EXPECT_THAT(bad.out, HasSubstr("hint: "));

  VoxRun top = Vox({"config", "check"});
  EXPECT_EQ(top.exit_code, 1);
  EXPECT_THAT(top.out, HasSubstr(Workspace() + ":2:18"));
}

TEST_F(ConfigVerbsTest, CheckWarnsOnUnknownKeyButPasses) {
  WriteFile(Workspace(), "[mesh.store]\ndurabilty = \"full\"\n");
  VoxRun run = Vox({"populi", "config", "check", "--json"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  boost::json::value doc = boost::json::parse(run.out);
  EXPECT_TRUE(doc.at("ok").as_bool());
  EXPECT_EQ(doc.at("warnings").as_int64(), 1);
  const auto& d = doc.at("diagnostics").as_array().at(0);
  EXPECT_EQ(d.at("severity").as_string(), "warning");
  EXPECT_EQ(d.at("hint").as_string(), "did you mean mesh.store.durability?");
  EXPECT_EQ(d.at("line").as_int64(), 2);
}

TEST_F(ConfigVerbsTest, TokenInWorkspaceFailsEveryVerbThatLoadsConfig) {
  WriteFile(Workspace(), "[mesh]\ntoken = \"oops-committed\"\n");
  VoxRun run = Vox({"populi", "config", "show"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("error: " + Workspace() + ":2:"));
  EXPECT_THAT(run.err, HasSubstr("mesh.token is a secret"));
  EXPECT_THAT(run.err, Not(HasSubstr("oops-committed")));
}

TEST_F(ConfigVerbsTest, LegacyEnvNameWarnsOnce) {
  env_.vars["VOX_MESH_EXEC_POLICY"] = "permissive";
  VoxRun run = Vox({"populi", "config", "show", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(KeyEntry(boost::json::parse(run.out), "mesh.policy.exec").at("value").as_string(),
            "permissive");
  VoxRun text = Vox({"populi", "config", "show"});
  std::string warning = "warning: VOX_MESH_EXEC_POLICY is deprecated; use VOX_MESH_POLICY_EXEC";
  size_t first = text.err.find(warning);
  ASSERT_NE(first, std::string::npos) << text.err;
  EXPECT_EQ(text.err.find(warning, first + 1), std::string::npos);
}

TEST_F(ConfigVerbsTest, DocsCommandPrintsTheGeneratedSection) {
  VoxRun run = Vox({"populi", "config", "docs"});
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, config::RenderKeyDocs());

  WriteFile(dir_.Sub("ws/doc.md"), std::string("intro\n") + std::string(config::kDocsBeginMarker) +
                                       "\nstale\n" + std::string(config::kDocsEndMarker) +
                                       "\noutro\n");
  VoxRun write = Vox({"populi", "config", "docs", "--write", dir_.Sub("ws/doc.md")});
  ASSERT_EQ(write.exit_code, 0) << write.err;
  EXPECT_EQ(ReadFile(dir_.Sub("ws/doc.md")), "intro\n" + config::RenderKeyDocs() + "outro\n");
}

}  // namespace
}  // namespace populi::testing
