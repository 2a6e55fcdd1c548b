// Two PostgreSQL stores on one schema, as two control-plane replicas would open them (each with
// its own writer and reader connections): lease grants, claims and deliveries raced through both
// keep one owner, strictly increasing fencing tokens and one row per dedupe key. Also the
// PostgreSQL writer's batch on its own (savepoints sent ahead of each write's statements) and
// the DSN's redaction.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/conformance.h"
#include "store/postgres.h"
#include "util/random.h"

namespace populi::store::testing {
namespace {

class PostgresReplicas : public ::testing::Test {
 protected:
  void SetUp() override {
    POPULI_REQUIRE_POSTGRES();
    const std::string schema = "replicas_" + RandomHex(6);
    for (int i = 0; i < 2; ++i) {
      PostgresOptions options;
      options.dsn = TestPostgresDsn();
      options.schema = schema;
      options.reader_pool_size = 2;
      auto store = OpenPostgresStore(options);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      replicas_.push_back(std::move(store).value());
    }
  }

  std::vector<std::unique_ptr<MeshStore>> replicas_;
};

struct Win {
  std::string holder;
  int64_t token = 0;
};

TEST_F(PostgresReplicas, LeaseGrantsRacedThroughTwoReplicasHaveOneOwnerAndRisingTokens) {
  constexpr int kScopes = 4;
  constexpr int kRounds = 12;
  constexpr int kThreadsPerReplica = 3;
  // wins[round][scope]: every grant that succeeded. Each round's clock is past the previous
  // round's expiry, so every round hands each scope to a new holder with a new token.
  std::vector<std::vector<std::vector<Win>>> wins(kRounds, std::vector<std::vector<Win>>(kScopes));
  std::mutex mu;
  std::atomic<int> unexpected{0};
  for (int round = 0; round < kRounds; ++round) {
    const int64_t now = 1000 * (round + 1);
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r) {
      for (int t = 0; t < kThreadsPerReplica; ++t) {
        threads.emplace_back([&, r, t] {
          MeshStore& store = *replicas_[r];
          const std::string holder = std::string(r == 0 ? "a" : "b") + std::to_string(t);
          for (int k = 0; k < kScopes; ++k) {
            const int scope = (k + t + r) % kScopes;  // threads start on different scopes
            const std::string key = "task:" + std::to_string(scope);
            for (int attempt = 0; attempt < 50; ++attempt) {
              mesh::ExecLease lease;
              Status status = store.Write([&](WriteTxn& txn) -> Status {
                POPULI_ASSIGN_OR_RETURN(lease, txn.GrantLease(key, holder, 500, now));
                return Status::Ok();
              });
              if (status.ok()) {
                std::lock_guard<std::mutex> guard(mu);
                wins[round][scope].push_back({holder, lease.fencing_token});
                break;
              }
              if (status.code() == Code::kConflict) break;  // another holder has it
              // kUnavailable: two replicas' batches waited on each other; a client retries.
              if (status.code() != Code::kUnavailable) {
                ++unexpected;
                ADD_FAILURE() << status.ToString();
                break;
              }
            }
          }
        });
      }
    }
    for (std::thread& thread : threads) thread.join();
  }
  ASSERT_EQ(unexpected.load(), 0);
  std::set<std::string> holders_seen;
  for (int scope = 0; scope < kScopes; ++scope) {
    int64_t previous = 0;
    for (int round = 0; round < kRounds; ++round) {
      const auto& round_wins = wins[round][scope];
      ASSERT_EQ(round_wins.size(), 1u) << "round " << round << " scope " << scope;
      EXPECT_GT(round_wins[0].token, previous) << "round " << round << " scope " << scope;
      previous = round_wins[0].token;
      holders_seen.insert(round_wins[0].holder);
    }
  }
  // Both replicas won grants: the race really ran through both.
  EXPECT_TRUE(std::any_of(holders_seen.begin(), holders_seen.end(),
                          [](const std::string& h) { return h[0] == 'a'; }));
  EXPECT_TRUE(std::any_of(holders_seen.begin(), holders_seen.end(),
                          [](const std::string& h) { return h[0] == 'b'; }));
  // Stored history: one lease per scope and round, tokens never reused, one live lease at most.
  for (auto& replica : replicas_) {
    auto leases = replica->ListLeases(false, 0);
    ASSERT_TRUE(leases.ok()) << leases.status().ToString();
    EXPECT_EQ(leases->size(), static_cast<size_t>(kScopes * kRounds));
    std::set<std::pair<std::string, int64_t>> tokens;
    for (const mesh::ExecLease& lease : *leases) {
      EXPECT_TRUE(tokens.insert({lease.scope_key, lease.fencing_token}).second);
    }
    auto live = replica->ListLeases(true, 1000 * kRounds);
    ASSERT_TRUE(live.ok());
    EXPECT_EQ(live->size(), static_cast<size_t>(kScopes));
    auto report = replica->Check();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    for (const CheckItem& item : report->items) EXPECT_TRUE(item.ok) << item.name << item.detail;
  }
}

TEST_F(PostgresReplicas, ClaimsRacedThroughTwoReplicasTakeEachMessageOnce) {
  constexpr int kMessages = 120;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(replicas_[i % 2]
                    ->Write([&](WriteTxn& txn) { return txn.Deliver(Msg("s", "r"), 10).status(); })
                    .ok());
  }
  std::mutex mu;
  std::map<int64_t, std::string> owner;  // message id → claimer
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, r, t] {
        for (int round = 0; round < 40; ++round) {
          // A new claimer each time (a re-claim by the same one would refresh its own rows).
          const std::string claimer =
              "n" + std::to_string(r) + std::to_string(t) + "-" + std::to_string(round);
          std::vector<mesh::A2AMessage> got;
          Status status = replicas_[r]->Write([&](WriteTxn& txn) -> Status {
            ClaimRequest req;
            req.receiver = "r";
            req.claimer_node_id = claimer;
            req.max_messages = 3;
            req.lease_ms = 1'000'000;
            req.now_ms = 20;
            POPULI_ASSIGN_OR_RETURN(got, txn.Claim(req));
            return Status::Ok();
          });
          if (!status.ok()) continue;  // a deadlock between replicas' batches: retry
          std::lock_guard<std::mutex> guard(mu);
          for (const mesh::A2AMessage& m : got) {
            auto [it, inserted] = owner.emplace(m.id, claimer);
            if (!inserted && it->second != claimer) ++duplicates;
          }
        }
      });
    }
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(duplicates.load(), 0);
  EXPECT_EQ(owner.size(), static_cast<size_t>(kMessages));
  // The database agrees: every row claimed once, by the claimer that was told so.
  auto inbox = replicas_[0]->ListInbox({"r", 0, kMessages + 1, true});
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), static_cast<size_t>(kMessages));
  for (const mesh::A2AMessage& m : *inbox) {
    EXPECT_EQ(m.delivery_count, 1) << m.id;
    EXPECT_EQ(m.claimer_node_id, owner[m.id]) << m.id;
  }
}

TEST_F(PostgresReplicas, OneDedupeKeyDeliveredThroughBothReplicasIsOneRow) {
  for (int i = 0; i < 10; ++i) {
    const std::string key = "k" + std::to_string(i);
    DeliverResult results[2];
    std::thread threads[2];
    for (int r = 0; r < 2; ++r) {
      threads[r] = std::thread([&, r] {
        Status status = replicas_[r]->Write([&](WriteTxn& txn) -> Status {
          POPULI_ASSIGN_OR_RETURN(results[r], txn.Deliver(Msg("s", "r", key), 10));
          return Status::Ok();
        });
        EXPECT_TRUE(status.ok()) << status.ToString();
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(results[0].message_id, results[1].message_id) << key;
    EXPECT_NE(results[0].duplicate, results[1].duplicate) << key;
  }
  EXPECT_EQ(*replicas_[1]->CountPending("r"), 10);
}

// The writer sends each write's SAVEPOINT and RELEASE ahead of the write's next statement rather
// than in round trips of their own. In one batch: a write whose statement the server refuses is
// rolled back alone, one that goes on after a refused statement is reported failed with nothing
// of it kept, and writes that send no statement at all succeed or fail without disturbing it.
TEST(PostgresWriteBatch, EachWriteStillRollsBackAloneWithItsSavepointSentAhead) {
  POPULI_REQUIRE_POSTGRES();
  PostgresOptions options;
  options.dsn = TestPostgresDsn();
  options.schema = "batch_" + RandomHex(6);
  auto opened = OpenPostgresStore(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  MeshStore& store = **opened;
  mesh::NewMessage refused = Msg("s", "r");
  refused.payload = "\xff\xfe";  // not UTF-8: the server refuses the insert
  // The first write holds the writer until the rest are queued, so all share one batch.
  std::promise<void> queued;
  std::shared_future<void> go = queued.get_future().share();
  const std::vector<WriteFn> writes = {
      [go](WriteTxn& t) {
        go.wait();
        return t.PutKv("ns", "a", "1");
      },
      [&](WriteTxn& t) { return t.Deliver(refused, 1).status(); },
      [&](WriteTxn& t) {
        POPULI_RETURN_IF_ERROR(t.PutKv("ns", "c", "1"));
        (void)t.Deliver(refused, 1);
        return Status::Ok();  // goes on regardless
      },
      [](WriteTxn&) { return Status::Ok(); },
      [](WriteTxn&) { return InvalidArgument("refused before any statement", "a test hint"); },
      [](WriteTxn& t) { return t.PutKv("ns", "f", "1"); },
  };
  std::vector<std::promise<Status>> done(writes.size());
  for (size_t i = 0; i < writes.size(); ++i)
    store.SubmitWrite(writes[i], [&done, i](Status s) { done[i].set_value(s); });
  queued.set_value();
  std::vector<Status> results;
  for (auto& d : done) results.push_back(d.get_future().get());
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_EQ(results[1].code(), Code::kInvalidArgument) << results[1].ToString();
  EXPECT_FALSE(results[2].ok());
  EXPECT_TRUE(results[3].ok()) << results[3].ToString();
  EXPECT_EQ(results[4].code(), Code::kInvalidArgument);
  EXPECT_TRUE(results[5].ok()) << results[5].ToString();
  EXPECT_TRUE(store.GetKv("ns", "a")->has_value());
  EXPECT_FALSE(store.GetKv("ns", "c")->has_value());
  EXPECT_TRUE(store.GetKv("ns", "f")->has_value());
  EXPECT_EQ(*store.CountPending("r"), 0);
  // The writer goes on: the next batch starts a fresh transaction.
  EXPECT_TRUE(store.Write([](WriteTxn& t) { return t.PutKv("ns", "g", "1"); }).ok());
  EXPECT_TRUE(store.GetKv("ns", "g")->has_value());
}

TEST(PostgresDsn, PasswordsAreRedactedInEveryForm) {
  EXPECT_EQ(RedactPostgresDsn("host=db user=u password=s3cret dbname=x"),
            "host=db user=u password=*** dbname=x");
  EXPECT_EQ(RedactPostgresDsn("password = 'a b\\' c' host=db"), "password=*** host=db");
  EXPECT_EQ(RedactPostgresDsn("postgresql://u:s3cret@db:5432/x"), "postgresql://u:***@db:5432/x");
  EXPECT_EQ(RedactPostgresDsn("postgres://db/x?user=u&password=s3cret&sslmode=require"),
            "postgres://db/x?user=u&password=***&sslmode=require");
  EXPECT_EQ(RedactPostgresDsn("host=db dbname=x"), "host=db dbname=x");
}

TEST(PostgresDsn, AFailedConnectNamesTheServerButNotThePassword) {
  PostgresOptions options;
  // Port 1 on loopback: nothing listens, the connect is refused at once.
  options.dsn = "host=127.0.0.1 port=1 user=u password=s3cret-value dbname=x connect_timeout=2";
  auto store = OpenPostgresStore(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable);
  EXPECT_EQ(store.status().ToString().find("s3cret-value"), std::string::npos)
      << store.status().ToString();
  EXPECT_NE(store.status().message().find("port=1"), std::string::npos);
  EXPECT_FALSE(store.status().hint().empty());
}

// The sweeper role raced through both replicas, round after round (each round's clock past the
// previous holder's expiry): one holder per round, its token strictly greater than the last
// round's, and the last round's holder fenced.
TEST_F(PostgresReplicas, RoleAcquisitionsRacedThroughTwoReplicasHaveOneHolderAndRisingTokens) {
  constexpr int kRounds = 10;
  constexpr int kThreadsPerReplica = 3;
  int64_t last_token = 0;
  std::string last_holder;
  for (int round = 0; round < kRounds; ++round) {
    const int64_t now = 10'000 * (round + 1);
    std::vector<Win> wins;
    std::mutex mu;
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r) {
      for (int t = 0; t < kThreadsPerReplica; ++t) {
        threads.emplace_back([&, r, t] {
          const std::string holder = std::string(r == 0 ? "a" : "b") + std::to_string(t);
          for (int attempt = 0; attempt < 50; ++attempt) {
            RoleLease lease;
            Status status = replicas_[r]->Write([&](WriteTxn& txn) -> Status {
              POPULI_ASSIGN_OR_RETURN(lease, txn.AcquireRole("sweeper", holder, 5'000, now));
              return Status::Ok();
            });
            if (status.ok()) {
              std::lock_guard<std::mutex> guard(mu);
              wins.push_back({holder, lease.fencing_token});
              return;
            }
            if (status.code() == Code::kConflict) return;  // another holder has it
            if (status.code() != Code::kUnavailable) {
              ADD_FAILURE() << status.ToString();
              return;
            }
          }
        });
      }
    }
    for (auto& thread : threads) thread.join();
    ASSERT_EQ(wins.size(), 1u) << "round " << round;
    EXPECT_GT(wins[0].token, last_token) << "round " << round;
    if (!last_holder.empty()) {
      Status stale = replicas_[round % 2]->Write(
          [&](WriteTxn& txn) { return txn.CheckRole("sweeper", last_holder, last_token); });
      EXPECT_EQ(stale.code(), Code::kConflict) << stale.ToString();
    }
    last_token = wins[0].token;
    last_holder = wins[0].holder;
  }
  auto stats = replicas_[0]->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->schema_version, 3);
}

// A holder's fenced write holds the role's row: a takeover racing it waits for that write to
// commit, then takes the role; the old holder's next write is refused.
TEST_F(PostgresReplicas, TakeoverWaitsForTheHoldersFencedWriteThenFencesIt) {
  ASSERT_TRUE(replicas_[0]
                  ->Write([](WriteTxn& txn) {
                    return txn.AcquireRole("sweeper", "a", 1'000, 100).status();
                  })
                  .ok());
  std::atomic<bool> checked{false};
  std::atomic<bool> release{false};
  std::thread holder([&] {
    Status s = replicas_[0]->Write([&](WriteTxn& txn) -> Status {
      POPULI_RETURN_IF_ERROR(txn.CheckRole("sweeper", "a", 1));
      checked = true;
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return txn.PutKv("fenced", "by-a", "1");
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  while (!checked) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::atomic<bool> taken{false};
  std::thread taker([&] {
    Status s = replicas_[1]->Write(
        [](WriteTxn& txn) { return txn.AcquireRole("sweeper", "b", 1'000, 5'000).status(); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    taken = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(taken) << "the takeover did not wait for the holder's fenced write";
  release = true;
  holder.join();
  taker.join();
  auto kv = replicas_[1]->GetKv("fenced", "by-a");
  ASSERT_TRUE(kv.ok());
  EXPECT_TRUE(kv->has_value());
  Status stale =
      replicas_[0]->Write([](WriteTxn& txn) { return txn.CheckRole("sweeper", "a", 1); });
  EXPECT_EQ(stale.code(), Code::kConflict) << stale.ToString();
}

}  // namespace
}  // namespace populi::store::testing
