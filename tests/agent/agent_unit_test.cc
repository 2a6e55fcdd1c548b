// Node identity (stable id and key, file mode, corruption), retry backoff, label parsing.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "agent/agent.h"
#include "agent/backoff.h"
#include "agent/identity.h"
#include "crypto/ed25519.h"
#include "util/random.h"

namespace populi::agent {
namespace {

namespace fs = std::filesystem;

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fs::temp_directory_path() / ("populi-id-" + RandomHex(6)); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(IdentityTest, CreatedOnceWithMode0600AndStableAcrossLoads) {
  auto first = LoadOrCreateIdentity(dir_.string(), "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(IdentityPath(dir_.string()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = LoadOrCreateIdentity(dir_.string(), "");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->node_id, second->node_id);
  EXPECT_EQ(first->public_key_b64(), second->public_key_b64());
  // The key signs and the public half verifies; another key's signature does not.
  const std::string sig = crypto::SignBase64(second->keys, "result");
  EXPECT_TRUE(crypto::VerifyBase64(first->public_key_b64(), "result", sig));
  EXPECT_FALSE(crypto::VerifyBase64(first->public_key_b64(), "other", sig));
  auto stranger = crypto::GenerateEd25519();
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE(crypto::VerifyBase64(first->public_key_b64(), "result",
                                    crypto::SignBase64(*stranger, "result")));
}

TEST_F(IdentityTest, ConfiguredIdWinsButTheKeyStays) {
  auto own = LoadOrCreateIdentity(dir_.string(), "");
  ASSERT_TRUE(own.ok());
  auto named = LoadOrCreateIdentity(dir_.string(), "gpu-box-1");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->node_id, "gpu-box-1");
  EXPECT_EQ(named->public_key_b64(), own->public_key_b64());
  // Dropping the setting returns to the stored id.
  EXPECT_EQ(LoadOrCreateIdentity(dir_.string(), "")->node_id, own->node_id);
}

TEST_F(IdentityTest, LoadWithoutCreateSeesNothingFirst) {
  auto none = LoadIdentity(dir_.string(), "");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(fs::exists(IdentityPath(dir_.string())));
}

TEST_F(IdentityTest, ReadableByOthersOrCorruptIsRefusedNotReplaced) {
  ASSERT_TRUE(LoadOrCreateIdentity(dir_.string(), "").ok());
  const std::string path = IdentityPath(dir_.string());
  ::chmod(path.c_str(), 0644);
  auto open = LoadOrCreateIdentity(dir_.string(), "");
  EXPECT_EQ(open.status().code(), Code::kPermissionDenied);
  EXPECT_NE(open.status().hint().find("chmod 600"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  std::ofstream(path, std::ios::trunc) << "{\"node_id\": \"x\"}";
  auto corrupt = LoadOrCreateIdentity(dir_.string(), "");
  EXPECT_FALSE(corrupt.ok());
  // Still the corrupt file: never silently replaced by a new identity.
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"node_id\": \"x\"}");
}

// The identity file's reader: the written file reads back, its fields are type-checked by name,
// a missing field is named, unknown fields are ignored.
TEST_F(IdentityTest, FileFieldsAreReadStrictly) {
  auto created = LoadOrCreateIdentity(dir_.string(), "");
  ASSERT_TRUE(created.ok());
  const std::string path = IdentityPath(dir_.string());
  std::ifstream in(path);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = boost::json::parse(written);
  ASSERT_TRUE(parsed.is_object()) << written;
  auto& file = parsed.as_object();
  EXPECT_EQ(file.at("node_id").as_string(), created->node_id);
  EXPECT_EQ(file.at("ed25519_public_key_b64").as_string(), created->public_key_b64());
  const std::string seed(file.at("ed25519_seed_b64").as_string());

  auto write_and_load = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    return LoadIdentity(dir_.string(), "");
  };
  auto extra = write_and_load(R"({"node_id":")" + created->node_id + R"(","ed25519_seed_b64":")" +
                              seed + R"(","comment":"moved from box-1","version":2})");
  ASSERT_TRUE(extra.ok()) << extra.status().ToString();
  ASSERT_TRUE(extra->has_value());
  EXPECT_EQ((*extra)->node_id, created->node_id);
  EXPECT_EQ((*extra)->public_key_b64(), created->public_key_b64());

  auto wrong_type = write_and_load(R"({"node_id":42,"ed25519_seed_b64":")" + seed + R"("})");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(wrong_type.status().message().find("node_id: expected a string"), std::string::npos)
      << wrong_type.status().message();
  EXPECT_FALSE(wrong_type.status().hint().empty());

  auto missing = write_and_load(R"({"node_id":"n1"})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("ed25519_seed_b64: required field is missing"),
            std::string::npos)
      << missing.status().message();
  auto not_object = write_and_load("[1]");
  ASSERT_FALSE(not_object.ok());
  EXPECT_NE(not_object.status().message().find("not a JSON object"), std::string::npos);
}

TEST(DefaultNodeId, SanitisesTheHostNameAndAddsASuffix) {
  const std::string id = DefaultNodeId("My_Host.Example");
  EXPECT_EQ(id.rfind("my-host.example-", 0), 0u) << id;
  EXPECT_EQ(id.size(), std::string("my-host.example-").size() + 6);
  EXPECT_NE(DefaultNodeId("h"), DefaultNodeId("h"));
  EXPECT_EQ(DefaultNodeId("").rfind("node-", 0), 0u);
}

TEST(Backoff, GrowsExponentiallyWithinTheCapAndResets) {
  Backoff b(500, 8'000, 42);
  std::vector<int64_t> ceilings;
  for (int i = 0; i < 7; ++i) {
    ceilings.push_back(b.CeilingMs());
    const int64_t d = b.NextDelayMs();
    EXPECT_GE(d, 250);
    EXPECT_LE(d, ceilings.back());
  }
  EXPECT_EQ(ceilings, (std::vector<int64_t>{500, 1000, 2000, 4000, 8000, 8000, 8000}));
  EXPECT_EQ(b.failures(), 7);
  b.Reset();
  EXPECT_EQ(b.CeilingMs(), 500);
}

TEST(Backoff, FullJitterSpreadsNodesThatFailedTogether) {
  // Many nodes failing at the same moment must not retry at the same moment.
  std::set<int64_t> delays;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Backoff b(500, 30'000, seed);
    for (int i = 0; i < 5; ++i) b.NextDelayMs();
    delays.insert(b.NextDelayMs());  // ceiling 16 s
  }
  EXPECT_GT(delays.size(), 40u);
  EXPECT_LE(*delays.rbegin(), 16'000);
}

TEST(Backoff, LowerCapNeverGoesBelowBase) {
  Backoff b(500, 30'000, 1);
  b.LowerCap(2'000);
  for (int i = 0; i < 10; ++i) b.NextDelayMs();
  EXPECT_EQ(b.CeilingMs(), 2'000);
  b.LowerCap(100);  // below base: ignored
  EXPECT_EQ(b.CeilingMs(), 2'000);
}

TEST(ParseLabels, SplitsAtTheFirstEquals) {
  auto labels = ParseLabels({"zone=eu-1", "gpu=h100=80g", "spot"});
  EXPECT_EQ(labels.at("zone"), "eu-1");
  EXPECT_EQ(labels.at("gpu"), "h100=80g");
  EXPECT_EQ(labels.at("spot"), "");
}

}  // namespace
}  // namespace populi::agent
