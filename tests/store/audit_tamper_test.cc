// Tampering with a real SQLite store file (the way an attacker with the file would: the sqlite3
// C API on the closed store) is found by the audit chain's verification, at the first bad
// position, both through the store's read (ListAudit) and its offline check (Check()).
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <string>

#include "store/sqlite.h"
#include "store/store_test_util.h"

namespace populi::store::testing {
namespace {

class AuditTamperTest : public ::testing::Test {
 protected:
  // Six entries, written through the store and closed.
  void SetUp() override {
    auto store = OpenSqliteOrDie(dir_.path());
    ASSERT_NE(store, nullptr);
    for (int i = 1; i <= 6; ++i) {
      Status s = store->Write([i](WriteTxn& t) {
        return t
            .AppendAudit({1000 + i, "node.quarantined", "admin", "node-" + std::to_string(i),
                          "{\"i\":" + std::to_string(i) + "}"})
            .status();
      });
      ASSERT_TRUE(s.ok()) << s.ToString();
      if (i == 3) entry3_ = store->ListAudit(2, 1)->entries.at(0);
    }
    ASSERT_TRUE(store->Close().ok());
  }

  // Reopens the store and verifies the chain both ways; both must name `damage` at `position`.
  void ExpectFound(mesh::AuditDamage damage, int64_t position) {
    auto store = OpenSqliteOrDie(dir_.path());
    ASSERT_NE(store, nullptr);
    auto page = store->ListAudit(0, 1000);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    const mesh::AuditVerdict v = mesh::VerifyAuditChain(page->entries, page->head);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(mesh::ToString(v.damage), mesh::ToString(damage)) << v.detail;
    EXPECT_EQ(v.position, position) << v.detail;

    auto report = store->Check();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_FALSE(report->ok);
    bool seen = false;
    for (const CheckItem& item : report->items) {
      if (item.name != "audit_chain") continue;
      seen = true;
      EXPECT_FALSE(item.ok);
      EXPECT_NE(item.detail.find(std::string(mesh::ToString(damage)) + " at position " +
                                 std::to_string(position)),
                std::string::npos)
          << item.detail;
    }
    EXPECT_TRUE(seen);
    ASSERT_TRUE(store->Close().ok());
  }

  TempDir dir_;
  mesh::AuditEntry entry3_;
};

TEST_F(AuditTamperTest, IntactLogPassesTheCheck) {
  auto store = OpenSqliteOrDie(dir_.path());
  auto report = store->Check();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok);
  bool seen = false;
  for (const CheckItem& item : report->items)
    seen = seen || (item.name == "audit_chain" && item.ok);
  EXPECT_TRUE(seen);
}

TEST_F(AuditTamperTest, EditedFieldIsFound) {
  RawSql(dir_.path(), "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
  ExpectFound(mesh::AuditDamage::kEdited, 3);
}

TEST_F(AuditTamperTest, DeletedMiddleRowIsFound) {
  RawSql(dir_.path(), "DELETE FROM audit_log WHERE seq = 4");
  ExpectFound(mesh::AuditDamage::kRemoved, 4);
}

TEST_F(AuditTamperTest, DeletedLastRowIsATruncatedTail) {
  RawSql(dir_.path(), "DELETE FROM audit_log WHERE seq = 6");
  ExpectFound(mesh::AuditDamage::kTruncated, 6);
}

TEST_F(AuditTamperTest, ForgedRowAppendedIsFound) {
  RawSql(dir_.path(),
         "INSERT INTO audit_log(seq, ts_ms, kind, actor, subject, data_json, prev_hash, hash, "
         "schema_version) SELECT 7, 2000, 'node.unquarantined', 'admin', 'node-1', '{}', hash, "
         "'" +
             std::string(64, 'f') + "', 1 FROM audit_log WHERE seq = 6");
  ExpectFound(mesh::AuditDamage::kInserted, 7);
}

TEST_F(AuditTamperTest, WellFormedRowForgedIntoTheMiddleIsFound) {
  // A forger who knows the construction chains a row after seq 3 and renumbers the rest.
  const mesh::AuditEntry forged =
      mesh::ChainAuditEntry(mesh::AuditHead{entry3_.seq, entry3_.hash},
                            mesh::AuditRecord{1003, "node.unquarantined", "admin", "node-3", "{}"});
  RawSql(dir_.path(),
         "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4;"
         "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 104;"
         "INSERT INTO audit_log(seq, ts_ms, kind, actor, subject, data_json, prev_hash, hash, "
         "schema_version) VALUES (4, 1003, 'node.unquarantined', 'admin', 'node-3', '{}', '" +
             forged.prev_hash + "', '" + forged.hash + "', 1)");
  ExpectFound(mesh::AuditDamage::kInserted, 4);
}

TEST_F(AuditTamperTest, SwappedRowsAreFound) {
  RawSql(dir_.path(),
         "UPDATE audit_log SET seq = -2 WHERE seq = 2;"
         "UPDATE audit_log SET seq = 2 WHERE seq = 5;"
         "UPDATE audit_log SET seq = 5 WHERE seq = -2");
  ExpectFound(mesh::AuditDamage::kReordered, 2);
}

TEST_F(AuditTamperTest, RemovedHeadIsFound) {
  RawSql(dir_.path(), "DELETE FROM kv WHERE ns = 'audit' AND key = 'head'");
  ExpectFound(mesh::AuditDamage::kHeadMismatch, 6);
}

}  // namespace
}  // namespace populi::store::testing
