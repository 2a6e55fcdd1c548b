// Conformance: tasks and task logs (PutTask, GetTask, FindTaskByClientKey, AppendTaskLog,
// ListTasks, ListTaskLogs) and their retention.
#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include "store/conformance.h"
#include "store/sqlite.h"

namespace populi::store::testing {
namespace {

mesh::Task MakeTask(std::string id, mesh::TaskState state, int64_t created_ms,
                    int64_t updated_ms = 0, std::string client_key = {}) {
  mesh::Task t;
  t.id = std::move(id);
  t.spec.command = "sh";
  t.spec.args = {"-c", "echo hi"};
  t.spec.client_key = std::move(client_key);
  t.state = state;
  t.created_ms = created_ms;
  t.updated_ms = updated_ms == 0 ? created_ms : updated_ms;
  return t;
}

std::vector<std::string> Ids(const std::vector<mesh::Task>& tasks) {
  std::vector<std::string> ids;
  for (const auto& t : tasks) ids.push_back(t.id);
  return ids;
}

class TaskStore : public StoreConformance {
 protected:
  Status Put(const mesh::Task& task) {
    return store_->Write([&](WriteTxn& t) { return t.PutTask(task); });
  }
  Result<int64_t> Log(const std::string& task_id, std::string_view data,
                      std::string_view stream = "stdout", int32_t attempt = 1, int64_t ts = 5) {
    return Do<int64_t>(
        [&](WriteTxn& t) { return t.AppendTaskLog(task_id, attempt, stream, data, ts); });
  }
  std::vector<int64_t> Seqs(const std::string& task_id, int64_t after = 0, int limit = 100) {
    auto chunks = store_->ListTaskLogs(task_id, after, limit);
    EXPECT_TRUE(chunks.ok()) << chunks.status().ToString();
    std::vector<int64_t> seqs;
    if (chunks.ok())
      for (const auto& c : *chunks) seqs.push_back(c.seq);
    return seqs;
  }
};

TEST_P(TaskStore, PutGetRoundTripAndReadYourOwnWrites) {
  mesh::Task t = MakeTask("t-1", mesh::TaskState::kPlaced, 100, 120, "build-42");
  t.spec.env = {{"K", "V"}};
  t.spec.resources.gpus = 1;
  t.spec.resources.gpu_memory_bytes = 8ULL << 30;
  t.spec.constraints.node_deny = {"n9"};
  t.spec.privacy_class = mesh::PrivacyClass::kTrusted;
  t.pending_reason = "was waiting";
  mesh::Attempt a;
  a.number = 1;
  a.node_id = "gpu-2";
  a.lease_id = std::string(32, 'f');
  a.fencing_token = 3;
  a.gpu_uuids = {"GPU-1"};
  t.attempts = {a};

  bool seen_inside = false;
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> Status {
                    POPULI_RETURN_IF_ERROR(txn.PutTask(t));
                    POPULI_ASSIGN_OR_RETURN(auto got, txn.GetTask("t-1"));
                    POPULI_ASSIGN_OR_RETURN(auto by_key, txn.FindTaskByClientKey("build-42"));
                    seen_inside = got.has_value() && by_key.has_value() && by_key->id == "t-1";
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(seen_inside);

  auto got = store_->GetTask("t-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  const mesh::Task& back = **got;
  EXPECT_EQ(back.spec.client_key, "build-42");
  EXPECT_EQ(back.spec.args, t.spec.args);
  EXPECT_EQ(back.spec.env, t.spec.env);
  EXPECT_EQ(back.spec.resources.gpu_memory_bytes, 8ULL << 30);
  EXPECT_EQ(back.spec.constraints.node_deny, t.spec.constraints.node_deny);
  EXPECT_EQ(back.spec.privacy_class, mesh::PrivacyClass::kTrusted);
  EXPECT_EQ(back.state, mesh::TaskState::kPlaced);
  EXPECT_EQ(back.created_ms, 100);
  EXPECT_EQ(back.updated_ms, 120);
  EXPECT_EQ(back.pending_reason, "was waiting");
  ASSERT_EQ(back.attempts.size(), 1u);
  EXPECT_EQ(back.attempts[0].lease_id, a.lease_id);
  EXPECT_EQ(back.attempts[0].fencing_token, 3);
  EXPECT_EQ(back.attempts[0].gpu_uuids, a.gpu_uuids);
  EXPECT_EQ(back.schema_version, mesh::kRecordSchemaVersion);

  EXPECT_FALSE(store_->GetTask("t-2")->has_value());
  EXPECT_EQ(Put(MakeTask("", mesh::TaskState::kPending, 1)).code(), Code::kInvalidArgument);
  mesh::Task garbled = MakeTask("t-3", mesh::TaskState::kPending, 1);
  garbled.spec.args = {"\xff\xfe"};
  EXPECT_EQ(Put(garbled).code(), Code::kInvalidArgument);
  EXPECT_FALSE(store_->GetTask("t-3")->has_value());
}

TEST_P(TaskStore, ReplaceUpdatesStateAndQueriedColumns) {
  ASSERT_TRUE(Put(MakeTask("t-1", mesh::TaskState::kPending, 100)).ok());
  mesh::Task running = MakeTask("t-1", mesh::TaskState::kRunning, 100, 150);
  running.attempts.resize(1);
  running.attempts[0].number = 1;
  running.attempts[0].state = mesh::AttemptState::kRunning;
  ASSERT_TRUE(Put(running).ok());
  auto got = store_->GetTask("t-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->state, mesh::TaskState::kRunning);
  EXPECT_EQ((*got)->updated_ms, 150);
  ASSERT_EQ((*got)->attempts.size(), 1u);
  EXPECT_EQ((*got)->attempts[0].state, mesh::AttemptState::kRunning);
  EXPECT_TRUE(store_->ListTasks({"pending", 10, false})->empty());
  EXPECT_EQ(Ids(*store_->ListTasks({"running", 10, false})), std::vector<std::string>{"t-1"});
  EXPECT_EQ(store_->ListTasks({})->size(), 1u);  // replaced, not added
}

TEST_P(TaskStore, ClientKeyNamesAtMostOneTask) {
  ASSERT_TRUE(Put(MakeTask("t-1", mesh::TaskState::kPending, 1, 1, "key-a")).ok());
  Status taken = Put(MakeTask("t-2", mesh::TaskState::kPending, 2, 2, "key-a"));
  EXPECT_EQ(taken.code(), Code::kAlreadyExists) << taken.ToString();
  EXPECT_NE(taken.message().find("t-1"), std::string::npos) << taken.message();
  EXPECT_FALSE(store_->GetTask("t-2")->has_value());

  auto found =
      Do<std::optional<mesh::Task>>([](WriteTxn& t) { return t.FindTaskByClientKey("key-a"); });
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, "t-1");
  auto missing =
      Do<std::optional<mesh::Task>>([](WriteTxn& t) { return t.FindTaskByClientKey("key-b"); });
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // The owner may replace itself keeping its key; tasks without a key never collide.
  EXPECT_TRUE(Put(MakeTask("t-1", mesh::TaskState::kRunning, 1, 5, "key-a")).ok());
  EXPECT_TRUE(Put(MakeTask("t-3", mesh::TaskState::kPending, 3)).ok());
  EXPECT_TRUE(Put(MakeTask("t-4", mesh::TaskState::kPending, 4)).ok());
  auto empty = Do<std::optional<mesh::Task>>([](WriteTxn& t) { return t.FindTaskByClientKey(""); });
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());

  // Once the owner drops the key, another task may take it.
  ASSERT_TRUE(Put(MakeTask("t-1", mesh::TaskState::kRunning, 1, 6)).ok());
  EXPECT_TRUE(Put(MakeTask("t-2", mesh::TaskState::kPending, 2, 2, "key-a")).ok());
  found = Do<std::optional<mesh::Task>>([](WriteTxn& t) { return t.FindTaskByClientKey("key-a"); });
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, "t-2");
}

TEST_P(TaskStore, ListTasksFiltersOrdersAndLimits) {
  using S = mesh::TaskState;
  const std::map<std::string, std::pair<S, int64_t>> tasks = {
      {"a", {S::kSucceeded, 10}}, {"b", {S::kPending, 20}}, {"c", {S::kRunning, 30}},
      {"d", {S::kPending, 40}},   {"e", {S::kFailed, 50}},  {"f", {S::kPlaced, 60}}};
  for (const auto& [id, v] : tasks) ASSERT_TRUE(Put(MakeTask(id, v.first, v.second)).ok());

  EXPECT_EQ(Ids(*store_->ListTasks({})), (std::vector<std::string>{"f", "e", "d", "c", "b", "a"}));
  EXPECT_EQ(Ids(*store_->ListTasks({"", 2, false})), (std::vector<std::string>{"f", "e"}));
  EXPECT_EQ(Ids(*store_->ListTasks({"pending", 10, false})), (std::vector<std::string>{"d", "b"}));
  EXPECT_EQ(Ids(*store_->ListTasks({"pending", 1, false})), (std::vector<std::string>{"d"}));
  EXPECT_EQ(Ids(*store_->ListTasks({"", 10, true})),
            (std::vector<std::string>{"f", "d", "c", "b"}));
  EXPECT_EQ(Ids(*store_->ListTasks({"succeeded", 10, true})), std::vector<std::string>{});
  EXPECT_EQ(Ids(*store_->ListTasks({"cancelled", 10, false})), std::vector<std::string>{});

  auto bad_state = store_->ListTasks({"exploded", 10, false});
  EXPECT_EQ(bad_state.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(bad_state.status().hint().empty());
  EXPECT_EQ(store_->ListTasks({"", 0, false}).status().code(), Code::kInvalidArgument);
}

TEST_P(TaskStore, LogSeqsArePerTaskFromOneAndPageAfterSeq) {
  ASSERT_TRUE(Put(MakeTask("t-1", mesh::TaskState::kRunning, 1)).ok());
  ASSERT_TRUE(Put(MakeTask("t-2", mesh::TaskState::kRunning, 2)).ok());
  EXPECT_EQ(*Log("t-1", "one\n"), 1);
  EXPECT_EQ(*Log("t-2", "other\n"), 1);
  EXPECT_EQ(*Log("t-1", "two\n", "stderr", 2, 7), 2);
  // Output bytes are kept as written, NULs and invalid UTF-8 included.
  const std::string binary("a\0\xff\xfe z", 6);
  EXPECT_EQ(*Log("t-1", binary, "system"), 3);
  EXPECT_EQ(*Log("t-2", ""), 2);

  auto all = store_->ListTaskLogs("t-1", 0, 100);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].data, "one\n");
  EXPECT_EQ((*all)[0].stream, "stdout");
  EXPECT_EQ((*all)[1].seq, 2);
  EXPECT_EQ((*all)[1].attempt, 2);
  EXPECT_EQ((*all)[1].stream, "stderr");
  EXPECT_EQ((*all)[1].ts_ms, 7);
  EXPECT_EQ((*all)[2].data, binary);
  EXPECT_EQ((*all)[2].stream, "system");

  EXPECT_EQ(Seqs("t-1", 1, 1), std::vector<int64_t>{2});
  EXPECT_EQ(Seqs("t-1", 2, 10), std::vector<int64_t>{3});
  EXPECT_TRUE(Seqs("t-1", 3, 10).empty());
  EXPECT_EQ(Seqs("t-2"), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(Seqs("t-unknown").empty());
  EXPECT_EQ(store_->ListTaskLogs("t-1", 0, 0).status().code(), Code::kInvalidArgument);

  EXPECT_EQ(Log("t-unknown", "x").status().code(), Code::kNotFound);
  EXPECT_EQ(Log("t-1", "x", "stdin").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(*Log("t-1", "four"), 4);  // refused appends used no seq
}

TEST_P(TaskStore, FailedWriteLeavesNoTaskNoLogsAndNoKey) {
  Status status = store_->Write([](WriteTxn& t) -> Status {
    POPULI_RETURN_IF_ERROR(t.PutTask(MakeTask("t-1", mesh::TaskState::kPending, 1, 1, "key")));
    POPULI_RETURN_IF_ERROR(t.AppendTaskLog("t-1", 1, "stdout", "hello", 1).status());
    return Conflict("changed my mind", "a test hint");
  });
  EXPECT_EQ(status.code(), Code::kConflict);
  EXPECT_FALSE(store_->GetTask("t-1")->has_value());
  EXPECT_TRUE(Seqs("t-1").empty());
  EXPECT_TRUE(store_->ListTasks({})->empty());
  EXPECT_TRUE(Put(MakeTask("t-2", mesh::TaskState::kPending, 1, 1, "key")).ok());
  ASSERT_TRUE(Put(MakeTask("t-1", mesh::TaskState::kPending, 1)).ok());
  EXPECT_EQ(*Log("t-1", "again"), 1);
}

TEST_P(TaskStore, TasksAndLogsSurviveReopen) {
  ASSERT_TRUE(Put(MakeTask("t-1", mesh::TaskState::kRunning, 10, 20, "key")).ok());
  ASSERT_EQ(*Log("t-1", "before"), 1);
  Reopen();
  auto got = store_->GetTask("t-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->state, mesh::TaskState::kRunning);
  EXPECT_EQ((*got)->spec.client_key, "key");
  auto logs = store_->ListTaskLogs("t-1", 0, 10);
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_EQ((*logs)[0].data, "before");
  EXPECT_EQ(*Log("t-1", "after"), 2);
  EXPECT_EQ(Put(MakeTask("t-2", mesh::TaskState::kPending, 30, 30, "key")).code(),
            Code::kAlreadyExists);
}

TEST_P(TaskStore, RetentionDeletesOldTerminalTasksWithTheirLogsOnly) {
  using S = mesh::TaskState;
  // Old (updated at 100) in every state, and one recently finished task.
  const std::vector<std::pair<std::string, S>> old = {
      {"old-ok", S::kSucceeded},    {"old-failed", S::kFailed}, {"old-cancelled", S::kCancelled},
      {"old-pending", S::kPending}, {"old-placed", S::kPlaced}, {"old-running", S::kRunning}};
  for (const auto& [id, state] : old) {
    ASSERT_TRUE(Put(MakeTask(id, state, 50, 100)).ok());
    ASSERT_TRUE(Log(id, "a").ok());
    ASSERT_TRUE(Log(id, "b").ok());
  }
  ASSERT_TRUE(Put(MakeTask("new-ok", S::kSucceeded, 50, 950)).ok());
  ASSERT_TRUE(Log("new-ok", "a").ok());

  auto too_young = store_->RunRetention(1000, 950, 100);  // cutoff 50: nothing is older
  ASSERT_TRUE(too_young.ok()) << too_young.status().ToString();
  EXPECT_EQ(too_young->tasks_deleted, 0);

  auto first = store_->RunRetention(1000, 500, 2);  // cutoff 500, two tasks per call
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->tasks_deleted, 2);
  EXPECT_EQ(first->task_logs_deleted, 4);
  auto second = store_->RunRetention(1000, 500, 2);
  EXPECT_EQ(second->tasks_deleted, 1);
  EXPECT_EQ(second->task_logs_deleted, 2);
  EXPECT_EQ(store_->RunRetention(1000, 500, 2)->tasks_deleted, 0);

  for (const char* gone : {"old-ok", "old-failed", "old-cancelled"}) {
    EXPECT_FALSE(store_->GetTask(gone)->has_value()) << gone;
    EXPECT_TRUE(Seqs(gone).empty()) << gone;
  }
  for (const char* kept : {"old-pending", "old-placed", "old-running"}) {
    EXPECT_TRUE(store_->GetTask(kept)->has_value()) << kept;
    EXPECT_EQ(Seqs(kept), (std::vector<int64_t>{1, 2})) << kept;
  }
  EXPECT_TRUE(store_->GetTask("new-ok")->has_value());
  EXPECT_EQ(Seqs("new-ok"), std::vector<int64_t>{1});

  auto report = store_->Check();
  ASSERT_TRUE(report.ok());
  for (const auto& item : report->items) EXPECT_TRUE(item.ok) << item.name << ": " << item.detail;
}

TEST_P(TaskStore, StatsCountTaskRowsAndCheckPasses) {
  ASSERT_TRUE(Put(MakeTask("t-1", mesh::TaskState::kRunning, 1)).ok());
  ASSERT_TRUE(Put(MakeTask("t-2", mesh::TaskState::kPending, 2)).ok());
  ASSERT_TRUE(Log("t-1", "x").ok());
  ASSERT_TRUE(Log("t-1", "y").ok());
  ASSERT_TRUE(Log("t-2", "z").ok());
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::map<std::string, int64_t> rows(stats->row_counts.begin(), stats->row_counts.end());
  EXPECT_EQ(rows["tasks"], 2);
  EXPECT_EQ(rows["task_logs"], 3);
  auto report = store_->Check();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok);
  for (const auto& item : report->items) EXPECT_TRUE(item.ok) << item.name << ": " << item.detail;
}

// ---- SQLite specifics: the migration that adds the task tables, and their check items ----

TEST(SqliteTaskStore, VersionOneDatabaseGainsTaskTablesAndKeepsItsRows) {
  TempDir dir;
  int64_t message_id = 0;
  {
    auto store = OpenSqliteOrDie(dir.path());
    ASSERT_TRUE(store
                    ->Write([&](WriteTxn& t) -> Status {
                      POPULI_ASSIGN_OR_RETURN(DeliverResult r, t.Deliver(Msg("a", "b"), 1));
                      message_id = r.message_id;
                      return Status::Ok();
                    })
                    .ok());
  }
  // What a database written before tasks existed looks like.
  RawSql(
      dir.path(),
      "DROP TABLE task_logs; DROP TABLE tasks; ALTER TABLE messages DROP COLUMN claim_token; "
      "DROP TABLE audit_log; DROP TABLE roles; DELETE FROM schema_migrations WHERE version >= 2");
  auto store = OpenSqliteOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Stats()->schema_version, 6);
  EXPECT_EQ((*store->GetMessage(message_id))->claim_token, "");
  EXPECT_TRUE(store->GetMessage(message_id)->has_value());
  ASSERT_TRUE(store
                  ->Write([](WriteTxn& t) -> Status {
                    POPULI_RETURN_IF_ERROR(
                        t.PutTask(MakeTask("t-1", mesh::TaskState::kPending, 1, 1, "key")));
                    return t.AppendTaskLog("t-1", 1, "stdout", "x", 1).status();
                  })
                  .ok());
  EXPECT_TRUE(store->GetTask("t-1")->has_value());
  EXPECT_TRUE(store->Check()->ok);
}

TEST(SqliteTaskStore, CheckReportsOrphanLogsAndUnknownTaskStates) {
  TempDir dir;
  OpenSqliteOrDie(dir.path())->Close().ok();
  RawSql(dir.path(),
         "INSERT INTO task_logs(task_id, seq, attempt, stream, ts_ms, data, schema_version) "
         "VALUES ('gone', 1, 1, 'stdout', 1, x'00', 1);"
         "INSERT INTO tasks(id, client_key, state, created_ms, updated_ms, body, schema_version) "
         "VALUES ('t-x', NULL, 'exploded', 1, 1, '{}', 1)");
  auto store = OpenSqliteOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  auto report = store->Check();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->ok);
  std::map<std::string, bool> items;
  for (const auto& item : report->items) items[item.name] = item.ok;
  EXPECT_FALSE(items.at("no_orphan_task_logs"));
  EXPECT_FALSE(items.at("known_task_states"));
  EXPECT_TRUE(items.at("integrity_check"));
  // A stored body that does not decode is the store's fault, not the caller's.
  EXPECT_EQ(store->GetTask("t-x").status().code(), Code::kStoreIo);
}

INSTANTIATE_TEST_SUITE_P(Backends, TaskStore, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace populi::store::testing
