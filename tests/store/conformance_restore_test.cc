// The restore path (Export, WriteTxn::Import*, store::CopyStore) on every backend: a store copied
// into a fresh SQLite store and back into a fresh store of its own backend holds every record it
// held (PostgreSQL → SQLite → PostgreSQL crosses backends both ways), tokens and ids keep rising
// after a copy, a non-empty destination is refused unless replaced, and a failed import writes
// nothing.
#include <map>
#include <string>
#include <vector>

#include "mesh/json.h"
#include "mesh/task_json.h"
#include "store/conformance.h"
#include "store/transfer.h"

namespace populi::store::testing {
namespace {

// Every record Export hands out, one line each, in export order.
class Dump final : public ExportVisitor {
 public:
  std::vector<std::string> lines;

  Status Role(const RoleLease& r) override {
    return Add("role " + r.role + " " + r.holder + " " + N(r.fencing_token) + " " +
               N(r.acquired_ms) + " " + N(r.expires_ms));
  }
  Status Node(const mesh::NodeRecord& n) override {
    return Add("node " + mesh::Serialize(mesh::ToJson(n)) + " " + N(n.joined_ms) + " " +
               N(n.last_seen_ms) + " " + N(n.maintenance) + " " + N(n.maintenance_until_ms) + " " +
               N(n.quarantined));
  }
  Status Counter(const FencingCounter& c) override {
    return Add("counter " + c.scope_key + " " + N(c.last_token));
  }
  Status Lease(const mesh::ExecLease& l) override {
    return Add("lease " + mesh::Serialize(mesh::ToJson(l)));
  }
  Status Message(const mesh::A2AMessage& m, int64_t finished_ms) override {
    return Add("message " + mesh::Serialize(mesh::ToJson(m)) + " claimer=" + m.claimer_node_id +
               " expires=" + N(m.claim_expires_ms) + " token=" + m.claim_token + " deliveries=" +
               N(m.delivery_count) + " acked=" + N(m.acked_ms) + " finished=" + N(finished_ms));
  }
  Status Event(const mesh::Event& e) override {
    return Add("event " + N(e.id) + " " + N(e.ts_ms) + " " + e.kind + " " + e.subject + " " +
               e.data_json);
  }
  Status Kv(std::string_view ns, std::string_view key, std::string_view value) override {
    return Add("kv " + std::string(ns) + "/" + std::string(key) + "=" + std::string(value));
  }
  Status Task(const mesh::Task& t) override {
    return Add("task " + mesh::Serialize(mesh::ToJson(t)));
  }
  Status TaskLog(std::string_view task_id, const TaskLogChunk& c) override {
    return Add("log " + std::string(task_id) + " " + N(c.seq) + " " + N(c.attempt) + " " +
               c.stream + " " + N(c.ts_ms) + " " + N(static_cast<int64_t>(c.data.size())) + ":" +
               c.data);
  }
  Status Audit(const mesh::AuditEntry& a) override {
    return Add("audit " + N(a.seq) + " " + N(a.ts_ms) + " " + a.kind + " " + a.actor + " " +
               a.subject + " " + a.data_json + " " + a.prev_hash + " " + a.hash);
  }
  Status HighWater(const IdHighWater& h) override {
    return Add("high-water " + N(h.message_id) + " " + N(h.event_id));
  }

 private:
  static std::string N(int64_t v) { return std::to_string(v); }
  Status Add(std::string line) {
    lines.push_back(std::move(line));
    return Status::Ok();
  }
};

// Runs `fn` in one write of `store`; a failure fails the test.
void WriteOrFail(MeshStore& store, const WriteFn& fn) {
  Status status = store.Write(fn);
  ASSERT_TRUE(status.ok()) << status.ToString();
}

std::vector<std::string> DumpOf(MeshStore& store) {
  Dump dump;
  Status status = store.Export(dump);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return dump.lines;
}

mesh::Task RestoreTask(std::string id, mesh::TaskState state, int64_t ms, std::string key = {}) {
  mesh::Task t;
  t.id = std::move(id);
  t.spec.command = "sh";
  t.spec.args = {"-c", "echo hi"};
  t.spec.client_key = std::move(key);
  t.state = state;
  t.created_ms = ms;
  t.updated_ms = ms + 5;
  return t;
}

class StoreRestore : public StoreConformance {
 protected:
  // A fresh store of this test's backend in a directory of its own (a schema of its own on
  // PostgreSQL).
  std::unique_ptr<MeshStore> OpenFresh(TempDir& dir) {
    auto opened = GetParam().open(dir.path());
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  // Something of every kind, with the corners a copy can lose: a claimed row's claim token, a
  // dead letter's finish time, deleted rows above the highest remaining ids and tokens, log bytes
  // that are not text, a quarantined node in maintenance, a held role, an audit chain.
  void Fill() {
    for (Status (*step)(WriteTxn&) :
         {&NodesAndMessages, &ClaimsAndAcks, &LeasesAndRoles, &EventsAndKv, &TasksAndAudit}) {
      Status status = store_->Write(step);
      ASSERT_TRUE(status.ok()) << status.ToString();
    }
    // Retention at 900 with a 100 ms window deletes what finished before 800: "old"'s message
    // (the newest id), job:1's first lease, job:3's only one, events 1 and 4 (the newest id), t3
    // and its log.
    auto deleted = store_->RunRetention(900, 100, 100);
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    ASSERT_EQ(deleted->messages_deleted, 1);
    ASSERT_EQ(deleted->leases_deleted, 2);
    ASSERT_EQ(deleted->events_deleted, 2);
    ASSERT_EQ(deleted->tasks_deleted, 1);
  }

  static Status NodesAndMessages(WriteTxn& t) {
    mesh::NodeRecord node;
    node.id = "n1";
    node.version = "1.2.3";
    node.labels = {{"zone", "a"}};
    node.state = mesh::NodeState::kAlive;
    node.joined_ms = 10;
    node.last_seen_ms = 20;
    POPULI_RETURN_IF_ERROR(t.UpsertNode(node));
    POPULI_RETURN_IF_ERROR(t.SetMaintenance("n1", true, 5000));
    POPULI_RETURN_IF_ERROR(t.SetQuarantine("n1", true));
    for (int i = 0; i < 6; ++i) {
      POPULI_RETURN_IF_ERROR(t.Deliver(Msg("s", "r", "k" + std::to_string(i)), 100).status());
    }
    return t.Deliver(Msg("s", "old"), 50).status();  // the newest id; acked, then deleted
  }

  // Before 800 (retention deletes it): "old"'s acked message. After: a dead letter (830), a live
  // claim with its token, an acked row (860).
  static Status ClaimsAndAcks(WriteTxn& t) {
    ClaimRequest old{"old", "w0", 1, 1000, 60, 10, {}};
    POPULI_ASSIGN_OR_RETURN(auto taken, t.Claim(old));
    POPULI_RETURN_IF_ERROR(t.Ack("old", {taken.at(0).id}, taken.at(0).claim_token, 70).status());
    // Claimed twice with max_deliveries 1: the second claim dead-letters the first row.
    ClaimRequest once{"r", "w1", 1, 10, 810, 1, {}};
    POPULI_RETURN_IF_ERROR(t.Claim(once).status());
    once.now_ms = 830;
    POPULI_RETURN_IF_ERROR(t.Claim(once).status());
    ClaimRequest live{"r", "w2", 2, 60'000, 850, 10, {}};
    POPULI_ASSIGN_OR_RETURN(auto claimed, t.Claim(live));
    return t.Ack("r", {claimed.at(1).id}, claimed.at(1).claim_token, 860).status();
  }

  // job:1: token 1 ended at 150 (deleted), 2 revoked at 860, 3 live; job:3: token 1 ended at 160
  // (deleted, only its counter stays); job:2: token 1 live; the sweeper role, token 1.
  static Status LeasesAndRoles(WriteTxn& t) {
    POPULI_ASSIGN_OR_RETURN(mesh::ExecLease first, t.GrantLease("job:1", "w1", 100, 100));
    POPULI_RETURN_IF_ERROR(
        t.CompleteLease(first.lease_id, "w1", first.fencing_token, 150).status());
    POPULI_ASSIGN_OR_RETURN(mesh::ExecLease only, t.GrantLease("job:3", "w1", 100, 100));
    POPULI_RETURN_IF_ERROR(t.ReleaseLease(only.lease_id, "w1", 160).status());
    POPULI_ASSIGN_OR_RETURN(mesh::ExecLease second, t.GrantLease("job:1", "w2", 100, 850));
    POPULI_RETURN_IF_ERROR(t.RevokeLease(second.lease_id, 860).status());
    POPULI_RETURN_IF_ERROR(t.GrantLease("job:1", "w3", 100'000, 870).status());
    POPULI_RETURN_IF_ERROR(t.GrantLease("job:2", "w1", 100'000, 880).status());
    return t.AcquireRole("sweeper", "replica-a", 1000, 890).status();
  }

  static Status EventsAndKv(WriteTxn& t) {
    POPULI_RETURN_IF_ERROR(t.AppendEvent({0, 100, "node.joined", "n1", "{\"a\":1}"}).status());
    POPULI_RETURN_IF_ERROR(t.AppendEvent({0, 880, "lease.granted", "job:2", "{}"}).status());
    POPULI_RETURN_IF_ERROR(t.AppendEvent({0, 890, "x", "", "{}"}).status());
    // The newest event is old: retention deletes it, and the next id stays above it.
    POPULI_RETURN_IF_ERROR(t.AppendEvent({0, 10, "old.kind", "", "{}"}).status());
    POPULI_RETURN_IF_ERROR(t.PutKv("pairing", "n1", "offer"));
    return t.PutKv("dispatch", "placement_epoch", "7");
  }

  static Status TasksAndAudit(WriteTxn& t) {
    POPULI_RETURN_IF_ERROR(t.PutTask(RestoreTask("t1", mesh::TaskState::kRunning, 500, "ck-1")));
    POPULI_RETURN_IF_ERROR(t.PutTask(RestoreTask("t2", mesh::TaskState::kSucceeded, 850)));
    POPULI_RETURN_IF_ERROR(t.PutTask(RestoreTask("t3", mesh::TaskState::kFailed, 600)));
    POPULI_RETURN_IF_ERROR(t.AppendTaskLog("t1", 1, "stdout", "hello\n", 510).status());
    POPULI_RETURN_IF_ERROR(
        t.AppendTaskLog("t1", 1, "stderr", std::string("\0\xff\x01 bytes", 9), 520).status());
    POPULI_RETURN_IF_ERROR(t.AppendTaskLog("t2", 1, "system", "done", 860).status());
    POPULI_RETURN_IF_ERROR(t.AppendTaskLog("t3", 1, "stdout", "goes with t3", 610).status());
    for (const char* kind : {"node.maintenance", "node.quarantine", "lease.revoke"}) {
      POPULI_RETURN_IF_ERROR(
          t.AppendAudit(mesh::AuditRecord{900, kind, "admin", "n1", "{\"why\":\"test\"}"})
              .status());
    }
    return Status::Ok();
  }
};

TEST_P(StoreRestore, CopyToSqliteAndBackKeepsEveryRecord) {
  Fill();
  if (HasFatalFailure()) return;
  const std::vector<std::string> before = DumpOf(*store_);
  ASSERT_GT(before.size(), 25u);

  TempDir sqlite_dir, back_dir;
  auto sqlite = OpenSqliteOrDie(sqlite_dir.path());
  ASSERT_NE(sqlite, nullptr);
  auto there = CopyStore(*store_, *sqlite, {});
  ASSERT_TRUE(there.ok()) << there.status().ToString();
  for (const auto& item : there->check.items)
    EXPECT_TRUE(item.ok) << item.name << ": " << item.detail;
  EXPECT_EQ(DumpOf(*sqlite), before);

  auto back = OpenFresh(back_dir);
  ASSERT_NE(back, nullptr);
  auto home = CopyStore(*sqlite, *back, {});
  ASSERT_TRUE(home.ok()) << home.status().ToString();
  EXPECT_TRUE(home->check.ok);
  EXPECT_EQ(DumpOf(*back), before);
  std::map<std::string, int64_t> rows;
  for (const auto& t : home->tables) {
    EXPECT_EQ(t.source, t.destination) << t.table;
    rows[t.table] = t.destination;
  }
  EXPECT_EQ(rows.size(), 10u);
  EXPECT_EQ(rows["audit_log"], 3);
  EXPECT_EQ(rows["roles"], 1);
  EXPECT_EQ(rows["task_logs"], 3);
  EXPECT_EQ(*back->CountPending("r"), *store_->CountPending("r"));
}

// Retention deleted the newest message (7), the newest event (4), job:3's only lease and job:1's
// first: the copy still issues what the source would have issued next.
TEST_P(StoreRestore, TokensAndIdsKeepRisingAfterACopy) {
  Fill();
  if (HasFatalFailure()) return;
  TempDir dir;
  auto copy = OpenFresh(dir);
  ASSERT_NE(copy, nullptr);
  ASSERT_TRUE(CopyStore(*store_, *copy, {}).ok());
  auto next = [](MeshStore& store) {
    std::vector<int64_t> out;
    Status s = store.Write([&](WriteTxn& t) -> Status {
      // job:1 is held by w3 until 100'870: a grant after that gets the scope's next token.
      POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, t.GrantLease("job:1", "w9", 10, 200'000));
      POPULI_ASSIGN_OR_RETURN(mesh::ExecLease job3, t.GrantLease("job:3", "w9", 10, 200'000));
      POPULI_ASSIGN_OR_RETURN(DeliverResult delivered, t.Deliver(Msg("s", "new"), 200'000));
      POPULI_ASSIGN_OR_RETURN(int64_t event, t.AppendEvent({0, 200'000, "k", "", "{}"}));
      POPULI_ASSIGN_OR_RETURN(RoleLease role, t.AcquireRole("sweeper", "replica-b", 10, 200'000));
      out = {lease.fencing_token, job3.fencing_token, delivered.message_id, event,
             role.fencing_token};
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  };
  const std::vector<int64_t> from_copy = next(*copy);
  EXPECT_EQ(from_copy, (std::vector<int64_t>{4, 2, 8, 5, 2}));
  EXPECT_EQ(next(*store_), from_copy);
}

TEST_P(StoreRestore, ANonEmptyDestinationIsRefusedUnlessReplaced) {
  Fill();
  if (HasFatalFailure()) return;
  TempDir dir;
  auto other = OpenFresh(dir);
  ASSERT_NE(other, nullptr);
  // The destination's own history: a token far above the source's on job:1, a node of its own.
  WriteOrFail(*other, [](WriteTxn& t) -> Status {
    mesh::NodeRecord node;
    node.id = "elsewhere";
    POPULI_RETURN_IF_ERROR(t.UpsertNode(node));
    return t.ImportFencingCounter({"job:1", 50});
  });
  const std::vector<std::string> untouched = DumpOf(*other);
  auto refused = CopyStore(*store_, *other, {});
  EXPECT_EQ(refused.status().code(), Code::kAlreadyExists) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("nodes 1"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(DumpOf(*other), untouched);

  auto replaced = CopyStore(*store_, *other, {.replace = true});
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_TRUE(replaced->check.ok);
  auto node = other->GetNode("elsewhere");
  ASSERT_TRUE(node.ok());
  EXPECT_FALSE(node->has_value());
  ASSERT_TRUE(other->GetNode("n1").ok() && other->GetNode("n1")->has_value());
  // The destination's higher counter stays: its next token is above both stores' history.
  mesh::ExecLease granted;
  WriteOrFail(*other, [&](WriteTxn& t) -> Status {
    POPULI_ASSIGN_OR_RETURN(granted, t.GrantLease("job:1", "w9", 10, 200'000));
    return Status::Ok();
  });
  EXPECT_EQ(granted.fencing_token, 51);
}

// A record the destination cannot hold (PostgreSQL text has no NUL bytes; SQLite's has) fails
// the whole copy: the destination holds what it held before. Only its id sequences may have moved
// up (PostgreSQL sequences are not transactional), which skips ids and never repeats one.
TEST_P(StoreRestore, ARecordTheDestinationRefusesFailsTheWholeCopy) {
  if (GetParam().name == "sqlite") GTEST_SKIP() << "SQLite text holds NUL bytes";
  TempDir source_dir;
  auto source = OpenSqliteOrDie(source_dir.path());
  ASSERT_NE(source, nullptr);
  WriteOrFail(*source, [](WriteTxn& t) -> Status {
    POPULI_RETURN_IF_ERROR(t.Deliver(Msg("s", "r"), 100).status());
    return t.PutKv("ns", "key", std::string("a\0b", 3));
  });
  ASSERT_EQ(DumpOf(*store_), std::vector<std::string>{"high-water 0 0"});
  auto failed = CopyStore(*source, *store_, {});
  EXPECT_EQ(failed.status().code(), Code::kInvalidArgument) << failed.status().ToString();
  const std::vector<std::string> after = DumpOf(*store_);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].rfind("high-water ", 0), 0u) << after[0];
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  for (const auto& [table, rows] : stats->row_counts) EXPECT_EQ(rows, 0) << table;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreRestore, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace populi::store::testing
