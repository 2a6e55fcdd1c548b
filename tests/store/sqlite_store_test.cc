// SQLite backend specifics: directory lock, schema versions, disk full, concurrency, crash
// safety, check and repair. Real files in temporary directories; real child processes.
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "store/child_process.h"
#include "store/sqlite.h"
#include "store/store_test_util.h"

namespace populi::store::testing {
namespace {

int64_t Deliver(MeshStore& store, const mesh::NewMessage& m) {
  int64_t id = 0;
  Status status = store.Write([&](WriteTxn& t) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto r, t.Deliver(m, 1));
    id = r.message_id;
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return id;
}

// One claim of one message of `receiver` by node n1 at time 10.
std::vector<mesh::A2AMessage> Claim(MeshStore& store, const std::string& receiver) {
  std::vector<mesh::A2AMessage> claimed;
  Status status = store.Write([&](WriteTxn& t) -> Status {
    POPULI_ASSIGN_OR_RETURN(claimed,
                            t.Claim(ClaimRequest{receiver, "n1", 1, 1000, 10, 10, nullptr}));
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return claimed;
}

TEST(SqliteStore, SecondProcessOnTheDirectoryGetsInUseError) {
  TempDir dir;
  ChildProcess holder({STORE_TEST_HELPER, "hold", dir.path()});
  std::vector<std::string> lines;
  holder.ReadLines(lines, 30'000, 1);
  ASSERT_EQ(lines, std::vector<std::string>{"ready"});
  SqliteOptions options;
  options.directory = dir.path();
  auto second = OpenSqliteStore(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(second.status().message(), "store " + dir.path() + " is in use by pid " +
                                           std::to_string(holder.pid()) +
                                           " \u2014 is another vox populi serve running?");
  EXPECT_FALSE(second.status().hint().empty());
  holder.Kill();  // the kernel drops a dead holder's lock
  auto third = OpenSqliteStore(options);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST(SqliteStore, SameProcessCannotOpenTwice) {
  TempDir dir;
  auto first = OpenSqliteOrDie(dir.path());
  SqliteOptions options;
  options.directory = dir.path();
  EXPECT_EQ(OpenSqliteStore(options).status().code(), Code::kFailedPrecondition);
}

TEST(SqliteStore, NewerSchemaIsRefusedAndLeftUntouched) {
  TempDir dir;
  OpenSqliteOrDie(dir.path())->Close().ok();
  RawSql(
      dir.path(),
      "INSERT INTO schema_migrations(version, applied_ms, description) VALUES (99, 1, 'future')");
  SqliteOptions options;
  options.directory = dir.path();
  auto refused = OpenSqliteStore(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("schema version 99, newer than this vox supports"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().hint().find("newer vox"), std::string::npos);
  RawSql(dir.path(), "DELETE FROM schema_migrations WHERE version = 99");
  EXPECT_TRUE(OpenSqliteStore(options).ok());
}

TEST(SqliteStore, ReopenKeepsDataAndSchemaVersion) {
  TempDir dir;
  int64_t id = 0;
  {
    auto store = OpenSqliteOrDie(dir.path());
    id = Deliver(*store, Msg("a", "b", "k"));
  }
  auto store = OpenSqliteOrDie(dir.path(), Durability::kBuffered);
  EXPECT_TRUE((*store->GetMessage(id)).has_value());
  EXPECT_EQ(store->Stats()->schema_version, 6);
  EXPECT_TRUE(store->Check()->ok);
}

TEST(SqliteStore, FullDatabaseFailsWithStoreFullAndLosesNothing) {
  TempDir dir;
  SqliteOptions options;
  options.directory = dir.path();
  options.max_size_bytes = 256 * 1024;
  std::vector<int64_t> committed;
  {
    auto store = OpenSqliteStore(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Status last;
    for (int i = 0; i < 500 && last.ok(); ++i) {
      auto m = Msg("s", "r", "k" + std::to_string(i));
      m.payload = std::string(4096, 'p');
      int64_t id = 0;
      last = (*store)->Write([&](WriteTxn& t) -> Status {
        POPULI_ASSIGN_OR_RETURN(auto r, t.Deliver(m, i));
        id = r.message_id;
        return Status::Ok();
      });
      if (last.ok()) committed.push_back(id);
    }
    EXPECT_EQ(last.code(), Code::kStoreFull) << last.ToString();
    EXPECT_FALSE(last.hint().empty());
    ASSERT_GT(committed.size(), 10u);
    for (int64_t id : committed) EXPECT_TRUE((*(*store)->GetMessage(id)).has_value()) << id;
    // A small write that fits still goes through after the failure.
    EXPECT_TRUE((*store)->Write([](WriteTxn& t) { return t.PutKv("a", "b", "c"); }).ok());
  }
  options.max_size_bytes = 0;
  auto reopened = OpenSqliteStore(options);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*(*reopened)->CountPending("r"), static_cast<int64_t>(committed.size()));
  EXPECT_TRUE((*reopened)->Check()->ok);
}

TEST(SqliteStore, ConcurrentWritersGetExactCountsAndNoDuplicates) {
  TempDir dir;
  auto store = OpenSqliteOrDie(dir.path(), Durability::kBuffered);
  constexpr int kThreads = 8;
  constexpr int kOps = 2000;
  // Each thread delivers 1000 distinct keys twice: the second delivery must be a duplicate
  // returning the first id.
  std::vector<std::map<std::string, int64_t>> first_ids(kThreads);
  std::atomic<int> mismatches{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i % (kOps / 2));
        DeliverResult result;
        Status s = store->Write([&](WriteTxn& txn) -> Status {
          POPULI_ASSIGN_OR_RETURN(result, txn.Deliver(Msg("s", "r", key), i));
          return Status::Ok();
        });
        if (!s.ok()) {
          ++failures;
          continue;
        }
        auto [it, inserted] = first_ids[t].try_emplace(key, result.message_id);
        if (inserted == result.duplicate || it->second != result.message_id) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  std::set<int64_t> ids;
  for (const auto& m : first_ids) {
    for (const auto& [key, id] : m) ids.insert(id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kOps / 2));
  EXPECT_EQ(*store->CountPending("r"), kThreads * kOps / 2);
  auto stats = store->Stats();
  ASSERT_TRUE(stats.ok());
  std::map<std::string, int64_t> rows(stats->row_counts.begin(), stats->row_counts.end());
  EXPECT_EQ(rows["messages"], kThreads * kOps / 2);
  EXPECT_TRUE(store->Check()->ok);
}

TEST(SqliteStore, AcknowledgedWritesSurviveSigkill) {
  TempDir dir;
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> run_ms(5, 120);
  std::set<int64_t> acknowledged;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    ChildProcess writer({STORE_TEST_HELPER, "write", dir.path()});
    std::vector<std::string> lines;
    writer.ReadLines(lines, 30'000, 1);  // it is writing
    ASSERT_FALSE(lines.empty()) << "round " << round << ": the writer produced nothing";
    writer.ReadLines(lines, run_ms(rng));
    writer.Kill();
    while (writer.ReadLines(lines, 5'000)) {
    }
    for (const auto& line : lines) acknowledged.insert(std::stoll(line));
    if (round % 5 == 4 || round == kRounds - 1) {
      auto store = OpenSqliteOrDie(dir.path());
      ASSERT_TRUE(store);
      for (int64_t id : acknowledged) {
        auto got = store->GetMessage(id);
        ASSERT_TRUE(got.ok());
        ASSERT_TRUE(got->has_value())
            << "acknowledged message " << id << " lost in round " << round;
      }
      auto report = store->Check();
      ASSERT_TRUE(report.ok());
      for (const auto& item : report->items)
        EXPECT_TRUE(item.ok) << item.name << ": " << item.detail;
    }
  }
  EXPECT_GT(acknowledged.size(), static_cast<size_t>(kRounds));
}

TEST(SqliteStore, CheckFindsViolationsAndRepairFixesThemKeepingRows) {
  TempDir dir;
  {
    auto store = OpenSqliteOrDie(dir.path());
    for (int i = 0; i < 4; ++i) Deliver(*store, Msg("s", "r", "k" + std::to_string(i)));
    ASSERT_TRUE(store
                    ->Write([](WriteTxn& t) -> Status {
                      ClaimRequest req{"r", "n1", 2, 1000, 0, 10, nullptr};
                      POPULI_RETURN_IF_ERROR(t.Claim(req).status());
                      POPULI_ASSIGN_OR_RETURN(auto lease, t.GrantLease("task:1", "h", 1000, 0));
                      return t.ReleaseLease(lease.lease_id, "h", 1).status();
                    })
                    .ok());
  }
  // Damage: a claim without its claimer, and a lost fencing counter (a reused token next).
  RawSql(dir.path(),
         "UPDATE messages SET claimer_node_id = '' WHERE state = 'claimed';"
         "DELETE FROM fencing_counters;");
  {
    auto store = OpenSqliteOrDie(dir.path());
    auto report = store->Check();
    ASSERT_TRUE(report.ok());
    EXPECT_FALSE(report->ok);
    std::map<std::string, bool> items;
    for (const auto& item : report->items) items[item.name] = item.ok;
    EXPECT_FALSE(items["no_orphan_claims"]);
    EXPECT_FALSE(items["fencing_counter_covers_tokens"]);
    EXPECT_TRUE(items["integrity_check"]);
  }
  SqliteOptions options;
  options.directory = dir.path();
  auto repaired = RepairSqliteStore(options, 5000);
  ASSERT_TRUE(repaired.ok()) << repaired.status().ToString();
  EXPECT_FALSE(repaired->before.ok);
  EXPECT_TRUE(repaired->after.ok);
  EXPECT_TRUE(std::filesystem::exists(repaired->backup_path));
  EXPECT_GE(repaired->actions.size(), 4u);  // backup, requeue, counters, reindex, rebuild
  auto store = OpenSqliteOrDie(dir.path());
  EXPECT_EQ(*store->CountPending("r"), 4);
  EXPECT_TRUE(store->Check()->ok);
  auto lease = store->Write([](WriteTxn& t) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto l, t.GrantLease("task:1", "h", 1000, 10));
    return l.fencing_token == 2 ? Status::Ok()
                                : Internal("token reused after repair", "a test hint");
  });
  EXPECT_TRUE(lease.ok()) << lease.ToString();
}

TEST(SqliteStore, APendingRowWithAClaimExpiryIsReportedAndRepairedBackToClaimable) {
  TempDir dir;
  int64_t id = 0;
  {
    auto store = OpenSqliteOrDie(dir.path());
    id = Deliver(*store, Msg("s", "r", "k"));
  }
  RawSql(dir.path(),
         "UPDATE messages SET claim_expires_ms = 9000000000000 WHERE state = 'pending'");
  {
    auto store = OpenSqliteOrDie(dir.path());
    auto report = store->Check();
    ASSERT_TRUE(report.ok());
    std::map<std::string, bool> items;
    for (const auto& item : report->items) items[item.name] = item.ok;
    EXPECT_FALSE(items["no_orphan_claims"]);
    // Why it matters: claims skip rows whose claim expiry lies ahead.
    EXPECT_TRUE(Claim(*store, "r").empty());
  }
  SqliteOptions options;
  options.directory = dir.path();
  auto repaired = RepairSqliteStore(options, 5000);
  ASSERT_TRUE(repaired.ok()) << repaired.status().ToString();
  EXPECT_TRUE(repaired->after.ok);
  auto store = OpenSqliteOrDie(dir.path());
  auto claimed = Claim(*store, "r");
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, id);
}

TEST(SqliteStore, RepairRefusesAStoreInUse) {
  TempDir dir;
  auto store = OpenSqliteOrDie(dir.path());
  SqliteOptions options;
  options.directory = dir.path();
  EXPECT_EQ(RepairSqliteStore(options, 1).status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace populi::store::testing
