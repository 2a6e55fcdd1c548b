// Import of the earlier version's JSON stores, from fixtures in tests/store/fixtures/legacy.
#include <filesystem>
#include <fstream>

#include "store/legacy_import.h"
#include "store/store_test_util.h"

namespace populi::store::testing {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kNow = 1'800'000'000'000;

class LegacyImport : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {kLegacyA2aFile, kLegacyLeaseFile}) {
      fs::copy_file(fs::path(STORE_FIXTURE_DIR) / "legacy" / name, fs::path(legacy_.path()) / name);
    }
    store_ = OpenSqliteOrDie(data_.path());
  }
  bool Exists(const std::string& name) { return fs::exists(fs::path(legacy_.path()) / name); }

  TempDir legacy_;
  TempDir data_;
  std::unique_ptr<MeshStore> store_;
};

TEST_F(LegacyImport, ImportsEveryRecordAndRenamesTheInputs) {
  auto report = ImportLegacyJson(*store_, legacy_.path(), kNow);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->messages_imported, 4);
  EXPECT_EQ(report->leases_imported, 3);
  EXPECT_EQ(report->renamed.size(), 2u);
  EXPECT_TRUE(Exists("a2a-store.json.migrated"));
  EXPECT_TRUE(Exists("exec-lease-store.json.migrated"));
  EXPECT_FALSE(Exists(kLegacyA2aFile));

  auto pending = *store_->GetMessage(1);
  EXPECT_EQ(pending->state, mesh::MessageState::kPending);
  EXPECT_EQ(pending->privacy_class, mesh::PrivacyClass::kPublic);  // the old default
  EXPECT_EQ(pending->created_ms, 1700000000000);
  auto acked = *store_->GetMessage(2);
  EXPECT_EQ(acked->state, mesh::MessageState::kAcked);
  auto claimed = *store_->GetMessage(3);
  EXPECT_EQ(claimed->state, mesh::MessageState::kClaimed);
  EXPECT_EQ(claimed->claimer_node_id, "node-a");
  EXPECT_EQ(claimed->priority, 7);
  EXPECT_EQ(claimed->model_id, "llama-3");
  auto signed_msg = *store_->GetMessage(5);
  EXPECT_EQ(signed_msg->privacy_class, mesh::PrivacyClass::kTrustedOnly);
  EXPECT_EQ(signed_msg->signature_b64, "c2lnbmF0dXJl");
  EXPECT_EQ(signed_msg->jwe_payload, "eyJhbGciOi");
  EXPECT_EQ(*store_->CountPending("200"), 2);  // 1 pending and 3 claimed; 2 is acknowledged

  auto live = *store_->LiveLeaseForScope("task:a", kNow);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->lease_id, LegacyLeaseId(7));
  EXPECT_EQ(live->lease_id, "00000000000000000000000000000007");
  EXPECT_EQ((*store_->GetLease(LegacyLeaseId(8)))->state, mesh::LeaseState::kExpired);
  EXPECT_EQ((*store_->GetLease(LegacyLeaseId(9)))->fencing_token, 2);
  EXPECT_TRUE(store_->Check()->ok);

  // After the import the store carries on: new ids above the old ones, dedupe keys honoured,
  // fencing tokens above the imported ones.
  auto m = Msg("100", "200", "result-1");
  DeliverResult dup, fresh;
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& t) -> Status {
                    POPULI_ASSIGN_OR_RETURN(dup, t.Deliver(m, kNow));
                    POPULI_ASSIGN_OR_RETURN(fresh, t.Deliver(Msg("100", "200"), kNow));
                    POPULI_ASSIGN_OR_RETURN(auto lease,
                                            t.GrantLease("task:b", "node-z", 1000, kNow));
                    return lease.fencing_token == 2
                               ? Status::Ok()
                               : Internal("fencing token did not continue", "a test hint");
                  })
                  .ok());
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.message_id, 2);
  EXPECT_EQ(fresh.message_id, 6);
}

TEST_F(LegacyImport, RunningTwiceIsSafe) {
  ASSERT_TRUE(ImportLegacyJson(*store_, legacy_.path(), kNow).ok());
  auto second = ImportLegacyJson(*store_, legacy_.path(), kNow);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->messages_imported + second->leases_imported, 0);
  EXPECT_TRUE(second->renamed.empty());
  // Interrupted between commit and rename: the inputs are still there; nothing is doubled.
  for (const char* name : {kLegacyA2aFile, kLegacyLeaseFile}) {
    fs::rename(fs::path(legacy_.path()) / (std::string(name) + ".migrated"),
               fs::path(legacy_.path()) / name);
  }
  auto again = ImportLegacyJson(*store_, legacy_.path(), kNow);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->messages_skipped, 4);
  EXPECT_EQ(again->leases_skipped, 3);
  EXPECT_EQ(again->messages_imported, 0);
  EXPECT_EQ(store_->ListLeases(false, kNow)->size(), 3u);
}

TEST_F(LegacyImport, InvalidRecordIsRefusedWithItsPlaceAndNothingIsWritten) {
  std::ofstream(fs::path(legacy_.path()) / kLegacyA2aFile)
      << R"({"messages": [{"id": 1, "sender_agent_id": "1", "receiver_agent_id": "2",
            "message_type": "t", "payload": "", "created_unix_ms": 1},
           {"id": 2, "sender_agent_id": "1", "message_type": "t", "payload": "",
            "created_unix_ms": 1}]})";
  auto report = ImportLegacyJson(*store_, legacy_.path(), kNow);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(report.status().message(),
            "a2a-store.json: messages[1].receiver_agent_id: required field is missing");
  EXPECT_FALSE(report.status().hint().empty());
  EXPECT_TRUE(Exists(kLegacyA2aFile));
  EXPECT_FALSE((*store_->GetMessage(1)).has_value());
  EXPECT_TRUE(store_->ListLeases(false, kNow)->empty());
}

TEST_F(LegacyImport, WrongTypesNameTheRecordAndFieldAndUnknownFieldsAreIgnored) {
  const fs::path a2a = fs::path(legacy_.path()) / kLegacyA2aFile;
  const fs::path leases = fs::path(legacy_.path()) / kLegacyLeaseFile;
  std::ofstream(a2a, std::ios::trunc)
      << R"([{"id": 1, "sender_agent_id": "1", "receiver_agent_id": "2", "message_type": "t",
             "payload": 5, "created_unix_ms": 1}])";
  auto payload = ImportLegacyJson(*store_, legacy_.path(), kNow);
  ASSERT_FALSE(payload.ok());
  EXPECT_EQ(payload.status().message(), "a2a-store.json: messages[0].payload: expected a string");

  std::ofstream(a2a, std::ios::trunc)
      << R"([{"id": "one", "sender_agent_id": "1", "receiver_agent_id": "2", "message_type": "t",
             "payload": "", "created_unix_ms": 1}])";
  auto id = ImportLegacyJson(*store_, legacy_.path(), kNow);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().message(),
            "a2a-store.json: messages[0].id: expected an integer or a decimal string");
  EXPECT_FALSE(id.status().hint().empty());

  std::ofstream(a2a, std::ios::trunc)
      << R"([{"id": 1, "sender_agent_id": "1", "receiver_agent_id": "2", "message_type": "t",
             "payload": "", "created_unix_ms": 1, "priority": -1}])";
  auto priority = ImportLegacyJson(*store_, legacy_.path(), kNow);
  ASSERT_FALSE(priority.ok());
  EXPECT_EQ(priority.status().message(), "a2a-store.json: messages[0].priority: must be 0..255");

  // Fields the earlier version wrote that this one has no use for are skipped; ids may be
  // decimal strings.
  std::ofstream(a2a, std::ios::trunc)
      << R"({"version": 3, "messages": [{"id": "12", "sender_agent_id": "1",
             "receiver_agent_id": "2", "message_type": "t", "payload": "p",
             "created_unix_ms": "5", "ui_color": "blue"}]})";
  std::ofstream(leases, std::ios::trunc)
      << R"({"leases": [{"lease_id": 4, "scope_key": "s", "holder_node_id": "n",
             "expires_unix_ms": 1, "state": "granted", "legacy_note": {"x": 1}}]})";
  auto imported = ImportLegacyJson(*store_, legacy_.path(), kNow);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->messages_imported, 1);
  EXPECT_EQ(imported->leases_imported, 1);
  auto m = *store_->GetMessage(12);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->created_ms, 5);
  EXPECT_EQ(m->payload, "p");
  EXPECT_EQ((*store_->GetLease(LegacyLeaseId(4)))->state, mesh::LeaseState::kExpired);
}

TEST_F(LegacyImport, MalformedJsonIsRefused) {
  std::ofstream(fs::path(legacy_.path()) / kLegacyLeaseFile) << "{\"leases\": [";
  auto report = ImportLegacyJson(*store_, legacy_.path(), kNow);
  EXPECT_EQ(report.status().code(), Code::kInvalidArgument);
  EXPECT_NE(report.status().message().find("not valid JSON"), std::string::npos);
}

TEST(RefuseLegacyOnlyDir, NamesTheMigrateCommand) {
  TempDir dir;
  EXPECT_TRUE(RefuseLegacyOnlyDir(dir.path()).ok());
  EXPECT_TRUE(RefuseLegacyOnlyDir(dir.path() + "/missing").ok());
  std::ofstream(fs::path(dir.path()) / kLegacyLeaseFile) << "{\"leases\": []}";
  Status refused = RefuseLegacyOnlyDir(dir.path());
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.hint().find("vox populi store migrate --from " + dir.path()),
            std::string::npos);
  OpenSqliteOrDie(dir.path());
  EXPECT_TRUE(RefuseLegacyOnlyDir(dir.path()).ok());
}

}  // namespace
}  // namespace populi::store::testing
