// Two dispatchers (two control-plane replicas) on one PostgreSQL schema, each with its own store
// connections: placements raced through both never book a node's capacity twice; heartbeats that
// reach only the replica without the sweeper role keep the node alive at the holder; the role
// moves to the other replica within one TTL and fences the old holder's writes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dispatch/dispatcher.h"
#include "store/postgres.h"
#include "util/clock.h"
#include "util/random.h"

namespace populi::dispatch {
namespace {

class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dsn = std::getenv("POPULI_TEST_PG_DSN");
    if (dsn == nullptr || *dsn == '\0') {
      const char* how =
          "no PostgreSQL server: set POPULI_TEST_PG_DSN (scripts/test starts one; by hand: "
          "scripts/pg-test-server start DIR prints the DSN)";
      if (std::getenv("POPULI_TEST_PG_REQUIRED") != nullptr) FAIL() << how;
      GTEST_SKIP() << how;
    }
    const std::string schema = "dispatch_" + RandomHex(6);
    options_.heartbeat_ms = 1'000;  // suspect after 3 s, down after 5 s
    options_.sweeper_role_ttl_ms = 3'000;
    clock_.Set(1'000'000);
    for (int i = 0; i < 2; ++i) {
      store::PostgresOptions po;
      po.dsn = dsn;
      po.schema = schema;
      po.reader_pool_size = 2;
      auto s = store::OpenPostgresStore(po);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      stores_.push_back(std::move(*s));
      Options o = options_;
      o.replica_id = i == 0 ? "replica-a" : "replica-b";
      dispatchers_.push_back(std::make_unique<Dispatcher>(*stores_.back(), o, clock_, nullptr));
    }
  }
  void TearDown() override {
    dispatchers_.clear();
    for (auto& s : stores_) (void)s->Close();
  }

  void Join(const std::string& id, int threads) {
    mesh::NodeRecord n;
    n.id = id;
    n.cpu.cores = n.cpu.threads = static_cast<uint32_t>(threads);
    n.cpu.memory_total_bytes = n.cpu.memory_available_bytes = 64ULL << 30;
    n.last_seen_ms = clock_.NowMs();
    ASSERT_TRUE(stores_[0]->Write([&](store::WriteTxn& txn) { return txn.UpsertNode(n); }).ok());
    for (auto& d : dispatchers_) d->liveness().Touch(id, clock_.NowMs());
  }

  std::string Submit(uint32_t cpus) {
    mesh::Task t;
    t.id = "t-" + RandomHex(6);
    t.spec.command = "true";
    t.spec.max_attempts = 1;
    t.spec.resources.cpus = cpus;
    t.created_ms = t.updated_ms = clock_.NowMs();
    EXPECT_TRUE(stores_[0]->Write([&](store::WriteTxn& txn) { return txn.PutTask(t); }).ok());
    return t.id;
  }

  std::vector<std::string> EventKinds(const std::string& subject) {
    auto events = stores_[0]->ListEvents(0, 10'000);
    std::vector<std::string> kinds;
    if (events.ok())
      for (const auto& e : *events)
        if (e.subject == subject) kinds.push_back(e.kind);
    return kinds;
  }

  Options options_;
  ManualClock clock_;
  std::vector<std::unique_ptr<store::MeshStore>> stores_;
  std::vector<std::unique_ptr<Dispatcher>> dispatchers_;
};

TEST_F(Replicas, PlacementsRacedThroughTwoReplicasNeverOverbookANode) {
  Join("n1", 4);
  Join("n2", 2);
  for (int i = 0; i < 16; ++i) Submit(1);
  // Both replicas place at once, several passes each (a submit on either triggers one).
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      for (int pass = 0; pass < 5; ++pass) {
        auto placed = dispatchers_[r]->PlacePending();
        EXPECT_TRUE(placed.ok() || placed.status().code() == Code::kUnavailable)
            << placed.status().ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  store::TaskQuery q;
  q.limit = 1000;
  auto tasks = stores_[1]->ListTasks(q);
  ASSERT_TRUE(tasks.ok()) << tasks.status().ToString();
  std::map<std::string, int> booked;
  int placed = 0;
  for (const auto& t : *tasks) {
    if (t.state != mesh::TaskState::kPlaced) continue;
    ++placed;
    ASSERT_EQ(t.attempts.size(), 1u) << t.id;
    booked[t.attempts.back().node_id] += static_cast<int>(t.spec.resources.cpus);
    EXPECT_EQ(t.attempts.back().fencing_token, 1) << t.id;
  }
  EXPECT_EQ(placed, 6);  // every free cpu taken once, none twice
  EXPECT_EQ(booked["n1"], 4);
  EXPECT_EQ(booked["n2"], 2);
}

TEST_F(Replicas, HeartbeatsAtTheReplicaWithoutTheRoleKeepTheNodeAlive) {
  Dispatcher& a = *dispatchers_[0];
  Dispatcher& b = *dispatchers_[1];
  ASSERT_TRUE(*a.HoldSweeperRole());
  ASSERT_FALSE(*b.HoldSweeperRole());
  Join("n1", 4);
  // Twenty seconds (four down windows) of heartbeats that reach only b; a sweeps every second.
  for (int s = 0; s < 20; ++s) {
    clock_.Advance(1'000);
    b.liveness().Touch("n1", clock_.NowMs());
    ASSERT_TRUE(b.Follow().ok());
    ASSERT_TRUE(*a.HoldSweeperRole());
    auto report = a.Sweep();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->state_changes, 0) << "second " << s;
  }
  EXPECT_EQ(a.liveness().Get("n1")->state, mesh::NodeState::kAlive);
  EXPECT_TRUE(EventKinds("n1").empty());
  // The heartbeats stop: the holder judges the node down on the stored silence, and b follows.
  for (int s = 0; s < 8; ++s) {
    clock_.Advance(1'000);
    ASSERT_TRUE(b.Follow().ok());
    ASSERT_TRUE(*a.HoldSweeperRole());
    ASSERT_TRUE(a.Sweep().ok());
  }
  EXPECT_EQ(a.liveness().Get("n1")->state, mesh::NodeState::kDown);
  ASSERT_TRUE(b.Follow().ok());
  EXPECT_EQ(b.liveness().Get("n1")->state, mesh::NodeState::kDown);
}

TEST_F(Replicas, RoleMovesWithinOneTtlAndTheOldHolderIsFenced) {
  Dispatcher& a = *dispatchers_[0];
  Dispatcher& b = *dispatchers_[1];
  ASSERT_TRUE(*a.HoldSweeperRole());
  EXPECT_TRUE(a.leading());
  ASSERT_FALSE(*b.HoldSweeperRole());
  auto first = stores_[1]->GetRole(kSweeperRole);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->holder, "replica-a");
  // a stops renewing (paused); b takes over once a's lease lapsed, not before.
  clock_.Advance(options_.sweeper_role_ttl_ms - 1);
  ASSERT_FALSE(*b.HoldSweeperRole());
  clock_.Advance(1);
  ASSERT_TRUE(*b.HoldSweeperRole());
  auto second = stores_[1]->GetRole(kSweeperRole);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->holder, "replica-b");
  EXPECT_GT((*second)->fencing_token, (*first)->fencing_token);
  // a wakes up and writes as the holder it was: refused, and it stops acting as holder.
  Status stale = a.NoteSweepGap(60'000);
  EXPECT_EQ(stale.code(), Code::kConflict) << stale.ToString();
  EXPECT_FALSE(a.leading());
  EXPECT_FALSE(*a.HoldSweeperRole());
  EXPECT_EQ(EventKinds("replica-a"), std::vector<std::string>{"control.sweeper_acquired"});
  EXPECT_EQ(EventKinds("replica-b"), std::vector<std::string>{"control.sweeper_acquired"});
  // A clean stop hands the role over at once.
  ASSERT_TRUE(b.ReleaseSweeperRole().ok());
  ASSERT_TRUE(*a.HoldSweeperRole());
}

}  // namespace
}  // namespace populi::dispatch
