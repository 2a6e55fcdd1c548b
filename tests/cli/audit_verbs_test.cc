// `vox populi audit` and `vox populi audit verify` as the real binary against a real
// `vox populi serve`: a wrong token, a role denial and a quarantine show up in the log, the chain
// verifies, and an edit of the store file (serve stopped) makes verify name the damaged entry.
#include <sqlite3.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "cli/serve_process.h"
#include "client/control_plane_api.h"
#include "config/test_files.h"
#include "store/sqlite.h"

namespace populi::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAuditAdminToken[] = "audit-verbs-test-admin-token-0123456789ab";
constexpr char kAuditReaderToken[] = "audit-verbs-test-reader-token-0123456789";
constexpr char kAuditWrongToken[] = "audit-verbs-test-wrong-token-0123456789ab";

// The first entry of `kind` in a `vox populi audit --json` document (null when none).
json::object FindAuditEntry(const json::value& doc, const std::string& kind) {
  for (const json::value& e : doc.at("entries").as_array()) {
    if (e.at("kind").as_string() == kind) return e.as_object();
  }
  return {};
}

TEST(AuditVerbsTest, SecurityEventsAreListedVerifiedAndAnEditedStoreFileIsCaught) {
  TempDir dir;
  ServeProcess serve(
      dir.Sub("mesh"), kAuditAdminToken,
      {.extra_config = std::string("read_only_token = \"") + kAuditReaderToken + "\"\n"});
  ASSERT_TRUE(serve.Start());
  client::ControlPlaneApi admin(serve.url(), kAuditAdminToken);
  mesh::NodeRecord record;
  record.id = "audit-box";
  record.version = "0.1.0";
  ASSERT_TRUE(admin.Join(record).ok());

  // A wrong token (401) and a role the route does not allow (403).
  EXPECT_EQ(client::ControlPlaneApi(serve.url(), kAuditWrongToken).Nodes().status().code(),
            Code::kUnauthenticated);
  EXPECT_EQ(client::ControlPlaneApi(serve.url(), kAuditReaderToken)
                .Quarantine({"audit-box", true})
                .status()
                .code(),
            Code::kPermissionDenied);
  VoxRun quarantine = serve.Vox({"populi", "admin", "quarantine", "audit-box"});
  ASSERT_EQ(quarantine.exit_code, 0) << quarantine.err;

  VoxRun listed = serve.Vox({"populi", "audit", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  for (const char* secret : {kAuditAdminToken, kAuditReaderToken, kAuditWrongToken}) {
    EXPECT_THAT(listed.out, Not(HasSubstr(secret)));
  }
  const json::value doc = Parse(listed.out);
  ASSERT_TRUE(doc.is_object());
  const json::object failed = FindAuditEntry(doc, "auth.failed");
  ASSERT_FALSE(failed.empty()) << listed.out;
  EXPECT_EQ(Str(failed.at("actor")), "127.0.0.1");
  EXPECT_EQ(Str(failed.at("subject")), "nodes.list");
  const json::object denied = FindAuditEntry(doc, "auth.denied");
  ASSERT_FALSE(denied.empty()) << listed.out;
  EXPECT_EQ(Str(denied.at("subject")), "admin.quarantine");
  const json::object quarantined = FindAuditEntry(doc, "node.quarantined");
  ASSERT_FALSE(quarantined.empty()) << listed.out;
  EXPECT_EQ(Str(quarantined.at("actor")), "admin");
  EXPECT_EQ(Str(quarantined.at("subject")), "audit-box");
  const json::object used = FindAuditEntry(doc, "token.used");
  ASSERT_FALSE(used.empty()) << listed.out;
  EXPECT_EQ(Str(used.at("subject")), "admin");
  ASSERT_TRUE(doc.at("head").is_object());
  const int64_t quarantine_seq = quarantined.at("seq").as_int64();

  VoxRun table = serve.Vox({"populi", "audit"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("SEQ"));
  EXPECT_THAT(table.out, HasSubstr("node.quarantined"));
  EXPECT_THAT(table.out, HasSubstr("head: seq "));

  VoxRun intact = serve.Vox({"populi", "audit", "verify"});
  EXPECT_EQ(intact.exit_code, 0) << intact.err;
  EXPECT_THAT(intact.out, HasSubstr("audit log intact"));

  // A reader token may not read the audit log.
  VoxRun refused = serve.Vox({"populi", "audit"}, {{"VOX_MESH_TOKEN", kAuditReaderToken}});
  EXPECT_EQ(refused.exit_code, 4) << refused.err;

  // Edit the quarantine entry on disk with serve stopped, as someone covering their tracks.
  serve.Stop();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(
        sqlite3_open(store::SqliteDatabasePath(dir.Sub("mesh") + "/home/populi").c_str(), &db),
        SQLITE_OK);
    const std::string sql =
        "UPDATE audit_log SET actor = 'nobody' WHERE seq = " + std::to_string(quarantine_seq);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
  }
  VoxRun offline = serve.Vox({"populi", "store", "check"});
  EXPECT_NE(offline.exit_code, 0) << offline.out;
  EXPECT_THAT(offline.out + offline.err, HasSubstr("audit_chain"));

  ASSERT_TRUE(serve.Start());
  VoxRun damaged = serve.Vox({"populi", "audit", "verify"});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.out;
  EXPECT_THAT(damaged.err, HasSubstr("edited at position " + std::to_string(quarantine_seq)));
  VoxRun damaged_json = serve.Vox({"populi", "audit", "verify", "--json"});
  EXPECT_EQ(damaged_json.exit_code, 1);
  const json::value verdict = Parse(damaged_json.out);
  ASSERT_TRUE(verdict.is_object()) << damaged_json.out;
  EXPECT_FALSE(verdict.at("ok").as_bool());
  EXPECT_EQ(Str(verdict.at("damage")), "edited");
  EXPECT_EQ(verdict.at("position").as_int64(), quarantine_seq);
}

}  // namespace
}  // namespace populi::testing
