// Connection drops across replicas (Dispatcher::ConnectionDropped and the Announced* calls): two
// dispatchers on one store, one holding the sweeper role, whose announcements are handed to each
// other as the store's topic channel would. A drop seen at the replica without the role is judged
// by the holder with the drop's grace; a drop withdrawn (the node holds a connection again, at
// either replica) never marks the node down, nor does one the holder forgot because its channel
// may have missed the withdrawal.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "dispatch/dispatcher.h"
#include "store/sqlite.h"
#include "util/clock.h"
#include "util/random.h"

namespace populi::dispatch {
namespace {

constexpr int64_t kDropGraceMs = 1'000;

class ConnectionDropsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("populi-drops-" + RandomHex(8));
    store::SqliteOptions so;
    so.directory = dir_.string();
    so.durability = store::Durability::kBuffered;
    auto s = store::OpenSqliteStore(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    Options options;
    options.heartbeat_ms = 1'000;  // suspect after 3 s, down after 5 s of silence
    options.connection_drop_grace_ms = kDropGraceMs;
    clock_.Set(1'000'000);
    for (int i = 0; i < 2; ++i) {
      options.replica_id = i == 0 ? "holder" : "follower";
      replicas_.push_back(std::make_unique<Dispatcher>(
          *store_, options, clock_, [this, i](std::string_view topic) { Deliver(1 - i, topic); }));
    }
    mesh::NodeRecord n;
    n.id = "n1";
    ASSERT_TRUE(store_->Write([&](store::WriteTxn& txn) { return txn.UpsertNode(n); }).ok());
    for (auto& r : replicas_) r->liveness().Touch("n1", clock_.NowMs());
    ASSERT_TRUE(*holder().HoldSweeperRole());
    ASSERT_FALSE(*follower().HoldSweeperRole());
  }
  void TearDown() override {
    replicas_.clear();
    if (store_) (void)store_->Close();
    std::filesystem::remove_all(dir_);
  }

  Dispatcher& holder() { return *replicas_[0]; }
  Dispatcher& follower() { return *replicas_[1]; }

  // What the store's topic channel does with another replica's announcement (ControlPlane).
  void Deliver(int to, std::string_view topic) {
    if (to >= static_cast<int>(replicas_.size())) return;
    if (auto node = NodeOfDroppedTopic(topic)) {
      if (replicas_[to]->AnnouncedConnectionDropped(*node)) ++sweeps_asked_;
    } else if (auto held = NodeOfHeldTopic(topic)) {
      replicas_[to]->AnnouncedConnectionHeld(*held);
    }
  }

  // Both replicas' passes every 100 ms for `ms` (less than the 3 s of silence that make a node
  // suspect), the node heard from at neither: only a drop can change its state meanwhile.
  void RunFor(int64_t ms) {
    for (int64_t t = 0; t < ms; t += 100) {
      clock_.Advance(100);
      ASSERT_TRUE(follower().Follow().ok());
      ASSERT_TRUE(holder().Sweep().ok());
    }
  }
  // A heartbeat at the holder: the node's silence starts again.
  void Heartbeat() { holder().liveness().Touch("n1", clock_.NowMs()); }

  // The node's liveness events as (kind, reason).
  std::vector<std::pair<std::string, std::string>> NodeEvents() {
    std::vector<std::pair<std::string, std::string>> out;
    auto events = store_->ListEvents(0, 1'000);
    if (!events.ok()) return out;
    for (const auto& e : *events) {
      if (e.subject != "n1" || e.kind.rfind("node.", 0) != 0) continue;
      boost::system::error_code ec;
      const boost::json::value data = boost::json::parse(e.data_json, ec);
      std::string reason;
      if (!ec && data.is_object() && data.as_object().contains("reason"))
        reason = std::string(data.at("reason").as_string());
      out.emplace_back(e.kind, reason);
    }
    return out;
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  std::unique_ptr<store::MeshStore> store_;
  std::vector<std::unique_ptr<Dispatcher>> replicas_;
  int sweeps_asked_ = 0;
};

TEST_F(ConnectionDropsTest, ADropAtTheReplicaWithoutTheRoleIsJudgedByTheHolderWithTheGrace) {
  EXPECT_FALSE(follower().ConnectionDropped("n1"));  // not the holder: announced instead
  EXPECT_EQ(sweeps_asked_, 1);
  ASSERT_TRUE(holder().Sweep().ok());
  ASSERT_TRUE(holder().liveness().Get("n1").has_value());
  EXPECT_EQ(holder().liveness().Get("n1")->state, mesh::NodeState::kSuspect);
  clock_.Advance(kDropGraceMs);
  ASSERT_TRUE(holder().Sweep().ok());
  EXPECT_EQ(holder().liveness().Get("n1")->state, mesh::NodeState::kDown);
  using Events = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(NodeEvents(),
            (Events{{"node.suspect", "connection_dropped"}, {"node.down", "connection_dropped"}}));
}

TEST_F(ConnectionDropsTest, ADropWithdrawnAtEitherReplicaNeverMarksTheNodeDown) {
  // Seen at the follower, held again there.
  EXPECT_FALSE(follower().ConnectionDropped("n1"));
  follower().ConnectionHeld("n1");
  RunFor(2 * kDropGraceMs);
  EXPECT_EQ(holder().liveness().Get("n1")->state, mesh::NodeState::kAlive);
  // Seen at the holder, held again at the follower (the agent's next poll went there).
  Heartbeat();
  EXPECT_TRUE(holder().ConnectionDropped("n1"));
  follower().ConnectionHeld("n1");
  RunFor(2 * kDropGraceMs);
  EXPECT_EQ(holder().liveness().Get("n1")->state, mesh::NodeState::kAlive);
  for (const auto& [kind, reason] : NodeEvents()) EXPECT_NE(kind, "node.down") << reason;
}

TEST_F(ConnectionDropsTest, TheHolderForgetsAnnouncedDropsWhenItMayHaveMissedTheirWithdrawal) {
  EXPECT_FALSE(follower().ConnectionDropped("n1"));
  holder().ForgetAnnouncedDrops();
  RunFor(2 * kDropGraceMs);
  EXPECT_EQ(holder().liveness().Get("n1")->state, mesh::NodeState::kAlive);
  // A drop the holder saw itself is not forgotten.
  EXPECT_TRUE(holder().ConnectionDropped("n1"));
  holder().ForgetAnnouncedDrops();
  clock_.Advance(kDropGraceMs);
  ASSERT_TRUE(holder().Sweep().ok());
  EXPECT_EQ(holder().liveness().Get("n1")->state, mesh::NodeState::kDown);
}

}  // namespace
}  // namespace populi::dispatch
