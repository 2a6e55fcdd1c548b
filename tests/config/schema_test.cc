// The schema table itself, and docs/config.md generated from it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "config/config.h"
#include "config/test_files.h"

namespace populi::config {
namespace {

TEST(SchemaTest, KeysAreUniqueDocumentedAndDefaultsParse) {
  std::set<std::string_view> seen;
  for (const KeySpec& spec : Schema()) {
    SCOPED_TRACE(std::string(spec.key));
    EXPECT_TRUE(seen.insert(spec.key).second) << "duplicate key";
    EXPECT_EQ(spec.key.substr(0, 5), "mesh.");
    EXPECT_FALSE(spec.doc.empty());
    EXPECT_EQ(spec.doc.find('\n'), std::string_view::npos);
    EXPECT_TRUE(ParseValue(spec, spec.default_value).ok());
    EXPECT_EQ(FindKey(spec.key), &spec);
    if (spec.secret) {
      EXPECT_EQ(spec.type, Type::kString);
      EXPECT_TRUE(spec.default_value.empty()) << "secrets have no default";
    }
  }
  EXPECT_EQ(FindKey("mesh.nope"), nullptr);
}

// The keys and defaults other modules rely on.
TEST(SchemaTest, KeysOtherModulesReadHaveTheirDefaults) {
  Config cfg;
  EXPECT_EQ(cfg.GetInt("mesh.control.heartbeat_secs"), 2);
  EXPECT_EQ(cfg.GetInt("mesh.control.suspect_after"), 3);
  EXPECT_EQ(cfg.GetInt("mesh.control.down_after"), 5);
  EXPECT_EQ(cfg.GetInt("mesh.control.exec_lease_ttl_secs"), 15);
  EXPECT_EQ(cfg.GetInt("mesh.control.a2a_claim_ttl_secs"), 120);
  EXPECT_EQ(cfg.GetInt("mesh.control.a2a_max_deliveries"), 10);
  EXPECT_EQ(cfg.GetInt("mesh.control.inbox_cap"), 50000);
  EXPECT_EQ(cfg.GetInt("mesh.control.long_poll_max_ms"), 30000);
  EXPECT_EQ(cfg.GetBytes("mesh.control.http.max_body_bytes"), 524288);
  EXPECT_EQ(cfg.GetInt("mesh.control.http.header_timeout_ms"), 10000);
  EXPECT_EQ(cfg.GetInt("mesh.control.http.body_timeout_ms"), 30000);
  EXPECT_EQ(cfg.GetInt("mesh.control.http.idle_timeout_ms"), 60000);
  EXPECT_EQ(cfg.GetInt("mesh.control.http.max_connections"), 1024);
  EXPECT_EQ(cfg.GetInt("mesh.control.http.handler_threads"), 64);
  EXPECT_EQ(cfg.GetInt("mesh.control.http.rate_per_sec"), 200);
  EXPECT_EQ(cfg.GetInt("mesh.control.http.rate_burst"), 400);
  EXPECT_EQ(cfg.GetString("mesh.control.bind"), "127.0.0.1:9847");
  EXPECT_EQ(cfg.GetString("mesh.store.backend"), "sqlite");
  EXPECT_EQ(cfg.GetString("mesh.store.durability"), "full");
  EXPECT_EQ(cfg.GetInt("mesh.probe.cache_ttl_secs"), 300);
  EXPECT_EQ(cfg.GetString("mesh.policy.sandbox"), "none");
  EXPECT_EQ(cfg.GetInt("mesh.bootstrap.expires_unix_ms"), 0);
  EXPECT_TRUE(cfg.GetBool("mesh.enabled"));
  for (const char* secret : {"mesh.token", "mesh.auth.admin_token", "mesh.auth.worker_token",
                             "mesh.auth.submitter_token", "mesh.auth.read_only_token",
                             "mesh.auth.jwt_hmac_secret", "mesh.bootstrap.token"}) {
    ASSERT_NE(FindKey(secret), nullptr) << secret;
    EXPECT_TRUE(FindKey(secret)->secret) << secret;
  }
  EXPECT_EQ(FindKey("mesh.token")->env, "VOX_MESH_TOKEN");
}

TEST(SchemaTest, EarlierNamesMapToKnownKeysAndAreNotCurrentNames) {
  for (const LegacyEnv& legacy : LegacyEnvNames()) {
    SCOPED_TRACE(std::string(legacy.name));
    ASSERT_NE(FindKey(legacy.key), nullptr);
    for (const KeySpec& spec : Schema()) EXPECT_NE(spec.env, legacy.name);
  }
}

TEST(SchemaTest, DocsConfigMdMatchesTheSchema) {
  const char* source_dir = std::getenv("POPULI_SOURCE_DIR");
  if (source_dir == nullptr) source_dir = POPULI_SOURCE_DIR_AT_BUILD;  // run outside ctest
  std::string path = std::string(source_dir) + "/docs/config.md";
  std::string text = populi::testing::ReadFile(path);
  size_t begin = text.find(kDocsBeginMarker);
  size_t end = text.find(kDocsEndMarker);
  ASSERT_NE(begin, std::string::npos) << path << " lacks the generated-section markers";
  ASSERT_NE(end, std::string::npos);
  std::string section = text.substr(begin, end + kDocsEndMarker.size() - begin) + "\n";
  EXPECT_EQ(section, RenderKeyDocs())
      << "docs/config.md drifted from the schema; regenerate it with:\n"
         "  vox populi config docs --write docs/config.md";
}

TEST(SchemaTest, RenderedDocsListEveryKeyAndEnvName) {
  std::string docs = RenderKeyDocs();
  for (const KeySpec& spec : Schema()) {
    EXPECT_THAT(docs, ::testing::HasSubstr("`" + std::string(spec.key) + "`"));
    EXPECT_THAT(docs, ::testing::HasSubstr("`" + std::string(spec.env) + "`"));
  }
}

}  // namespace
}  // namespace populi::config
