// The dispatch engine without HTTP: a real SQLite store in a temp directory, a hand-set clock.
// Placement records lease, attempt and assignment together; a node that goes silent loses its
// attempt and the task moves with a higher fencing token; a stale reporter is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "dispatch/attempts.h"
#include "dispatch/dispatcher.h"
#include "mesh/json.h"
#include "mesh/task_json.h"
#include "store/sqlite.h"
#include "util/clock.h"
#include "util/random.h"

namespace populi::dispatch {
namespace {

mesh::NodeRecord Node(const std::string& id) {
  mesh::NodeRecord n;
  n.id = id;
  n.cpu.cores = 8;
  n.cpu.threads = 16;
  n.cpu.memory_total_bytes = n.cpu.memory_available_bytes = 64ULL << 30;
  return n;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("populi-dispatch-" + RandomHex(8));
    store::SqliteOptions so;
    so.directory = dir_.string();
    so.durability = store::Durability::kBuffered;
    auto s = store::OpenSqliteStore(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    options_.heartbeat_ms = 1'000;  // suspect after 3 s, down after 5 s
    options_.exec_lease_ttl_ms = 10'000;
    clock_.Set(1'000'000);
    dispatcher_ = std::make_unique<Dispatcher>(
        *store_, options_, clock_, [this](std::string_view t) { topics_.emplace_back(t); });
  }
  void TearDown() override {
    dispatcher_.reset();
    if (store_) (void)store_->Close();
    std::filesystem::remove_all(dir_);
  }

  void Join(const std::string& id) {
    ASSERT_TRUE(store_->Write([&](store::WriteTxn& txn) { return txn.UpsertNode(Node(id)); }).ok());
    dispatcher_->liveness().Touch(id, clock_.NowMs());
  }

  std::string Submit(int32_t max_attempts = 3) {
    mesh::Task t;
    t.id = "t-" + RandomHex(6);
    t.spec.command = "true";
    t.spec.max_attempts = max_attempts;
    t.created_ms = t.updated_ms = clock_.NowMs();
    EXPECT_TRUE(store_->Write([&](store::WriteTxn& txn) { return txn.PutTask(t); }).ok());
    return t.id;
  }

  mesh::Task Get(const std::string& id) {
    auto t = store_->GetTask(id);
    EXPECT_TRUE(t.ok() && *t);
    return **t;
  }

  std::vector<std::string> EventKinds() {
    auto events = store_->ListEvents(0, 1000);
    std::vector<std::string> kinds;
    if (events.ok())
      for (const auto& e : *events) kinds.push_back(e.kind);
    return kinds;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::MeshStore> store_;
  Options options_;
  ManualClock clock_;
  std::vector<std::string> topics_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, PlacementGrantsLeaseRecordsAttemptAndDeliversTypedAssignment) {
  Join("n1");
  const std::string id = Submit();
  auto placed = dispatcher_->PlacePending();
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  EXPECT_EQ(*placed, 1);

  const mesh::Task t = Get(id);
  ASSERT_EQ(t.state, mesh::TaskState::kPlaced);
  ASSERT_EQ(t.attempts.size(), 1u);
  const mesh::Attempt& a = t.attempts[0];
  EXPECT_EQ(a.node_id, "n1");
  auto lease = store_->GetLease(a.lease_id);
  ASSERT_TRUE(lease.ok() && *lease);
  EXPECT_EQ((*lease)->scope_key, TaskScope(id));
  EXPECT_EQ((*lease)->fencing_token, a.fencing_token);

  store::InboxQuery q;
  q.receiver = mesh::TaskInboxFor("n1");
  auto inbox = store_->ListInbox(q);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  auto payload = mesh::ParseJson(inbox->at(0).payload);
  ASSERT_TRUE(payload.ok());
  auto assignment = mesh::TaskAssignmentFromJson(*payload);
  ASSERT_TRUE(assignment.ok()) << assignment.status().ToString();
  EXPECT_EQ(assignment->task_id, id);
  EXPECT_EQ(assignment->attempt, 1);
  EXPECT_EQ(assignment->lease_id, a.lease_id);
  EXPECT_EQ(assignment->fencing_token, a.fencing_token);
  EXPECT_EQ(assignment->lease_ttl_ms, options_.exec_lease_ttl_ms);
  EXPECT_EQ(assignment->spec.command, "true");

  const auto kinds = EventKinds();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "lease.granted"), kinds.end());
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "task.placed"), kinds.end());
  EXPECT_NE(std::find(topics_.begin(), topics_.end(), NodeInboxTopic(mesh::TaskInboxFor("n1"))),
            topics_.end());
}

TEST_F(DispatcherTest, ATaskNamingSecretsWaitsWhileItsSubmitterIsDownOrUnknown) {
  Join("worker");
  mesh::Task t;
  t.id = "t-secret";
  t.spec.command = "true";
  t.spec.submitter_node_id = "box-a";
  t.spec.secret_names = {"HF_TOKEN"};
  t.spec.constraints.node_allow = {"worker"};
  t.created_ms = t.updated_ms = clock_.NowMs();
  mesh::NodeRecord worker = Node("worker");
  worker.paired_with = {"box-a"};
  ASSERT_TRUE(store_
                  ->Write([&](store::WriteTxn& txn) {
                    POPULI_RETURN_IF_ERROR(txn.UpsertNode(worker));
                    return txn.PutTask(t);
                  })
                  .ok());
  // box-a has never joined: nobody can seal the secrets.
  ASSERT_TRUE(dispatcher_->PlacePending().ok());
  EXPECT_EQ(Get(t.id).state, mesh::TaskState::kPending);
  EXPECT_NE(Get(t.id).pending_reason.find("the submitter box-a is not a node of the mesh"),
            std::string::npos)
      << Get(t.id).pending_reason;
  // box-a joins: the paired worker gets it.
  Join("box-a");
  ASSERT_TRUE(dispatcher_->PlacePending().ok());
  const mesh::Task placed = Get(t.id);
  ASSERT_EQ(placed.state, mesh::TaskState::kPlaced) << placed.pending_reason;
  EXPECT_EQ(placed.attempts.back().node_id, "worker");
}

TEST_F(DispatcherTest, SilentNodeLosesItsAttemptAndTheTaskMovesWithAHigherToken) {
  Join("n1");
  const std::string id = Submit();
  ASSERT_TRUE(dispatcher_->PlacePending().ok());
  const mesh::Attempt first = Get(id).attempts.at(0);
  ASSERT_EQ(first.node_id, "n1");
  Join("n2");  // n2 keeps heartbeating; n1 falls silent

  for (int s = 1; s <= 6; ++s) {
    clock_.Advance(1'000);
    dispatcher_->liveness().Touch("n2", clock_.NowMs());
    ASSERT_TRUE(dispatcher_->Sweep().ok());
  }
  const mesh::Task t = Get(id);
  ASSERT_EQ(t.attempts.size(), 2u);
  EXPECT_EQ(t.attempts[0].state, mesh::AttemptState::kLost);
  EXPECT_EQ(t.attempts[0].error, "node_down");
  EXPECT_EQ(t.attempts[1].node_id, "n2");
  EXPECT_EQ(t.attempts[1].dispatch, mesh::DispatchKind::kFallback);
  EXPECT_GT(t.attempts[1].fencing_token, first.fencing_token);
  auto old_lease = store_->GetLease(first.lease_id);
  ASSERT_TRUE(old_lease.ok() && *old_lease);
  EXPECT_EQ((*old_lease)->state, mesh::LeaseState::kRevoked);

  // The first attempt's holder is a zombie now: its reports are refused.
  mesh::AttemptReport stale{1, "n1", first.lease_id, first.fencing_token};
  Status refused = store_->Write(
      [&](store::WriteTxn& txn) { return CheckReporter(txn, id, stale, clock_.NowMs()).status(); });
  EXPECT_EQ(refused.code(), Code::kConflict);
  EXPECT_FALSE(refused.hint().empty());
  const mesh::Attempt& second = t.attempts[1];
  mesh::AttemptReport current{2, "n2", second.lease_id, second.fencing_token};
  Status accepted = store_->Write([&](store::WriteTxn& txn) {
    return CheckReporter(txn, id, current, clock_.NowMs()).status();
  });
  EXPECT_TRUE(accepted.ok()) << accepted.ToString();
}

TEST_F(DispatcherTest, ExpiredLeaseOnTheLastAttemptFailsTheTask) {
  Join("n1");
  const std::string id = Submit(/*max_attempts=*/1);
  ASSERT_TRUE(dispatcher_->PlacePending().ok());
  // The node stays alive but never renews: the lease lapses after its TTL.
  for (int s = 1; s <= 11; ++s) {
    clock_.Advance(1'000);
    dispatcher_->liveness().Touch("n1", clock_.NowMs());
    auto report = dispatcher_->Sweep();
    ASSERT_TRUE(report.ok());
  }
  const mesh::Task t = Get(id);
  EXPECT_EQ(t.state, mesh::TaskState::kFailed);
  ASSERT_EQ(t.attempts.size(), 1u);
  EXPECT_EQ(t.attempts[0].error, "lease_expired");
}

TEST_F(DispatcherTest, UnknownTaskReportIsNotFoundWithAHint) {
  mesh::AttemptReport r{1, "n1", std::string(32, 'a'), 1};
  Status s = store_->Write(
      [&](store::WriteTxn& txn) { return CheckReporter(txn, "t-none", r, 0).status(); });
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_FALSE(s.hint().empty());
}

}  // namespace
}  // namespace populi::dispatch
