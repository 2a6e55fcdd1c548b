// `vox populi store migrate --to postgres` / `--from postgres` and `store check` of a PostgreSQL
// store, as the real binary: a real serve (with its worker) fills a SQLite store, which moves
// into a real PostgreSQL server and back (postgres_cli.h: the server, the password that must
// never be printed).
#include <sqlite3.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cli/postgres_cli.h"
#include "cli/serve_process.h"
#include "client/control_plane_api.h"
#include "util/random.h"

namespace populi::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

using postgres_cli::ClosedPort;
using postgres_cli::ExpectNoPassword;
using postgres_cli::kAdminToken;
using postgres_cli::kPassword;
using postgres_cli::NeedPostgres;
using postgres_cli::PostgresEnv;

// Every row of every table of a SQLite store file (sqlite_sequence included), one line each,
// sorted. A node's record_json is left out: it is re-encoded from the record and its columns
// (the nodes are compared through the store's records instead).
std::map<std::string, std::vector<std::string>> SqliteRows(const std::string& db_path) {
  std::map<std::string, std::vector<std::string>> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path;
    sqlite3_close(db);
    return rows;
  }
  for (const char* table : {"nodes", "messages", "exec_leases", "fencing_counters", "events", "kv",
                            "tasks", "task_logs", "audit_log", "roles", "sqlite_sequence"}) {
    sqlite3_stmt* stmt = nullptr;
    const std::string sql = std::string("SELECT * FROM ") + table;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << table;
    auto& lines = rows[table];
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      std::string line;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const std::string name = sqlite3_column_name(stmt, c);
        if (std::string(table) == "nodes" && name == "record_json") continue;
        const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt, c));
        line += name + "=" +
                (bytes ? std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt, c)))
                       : std::string("NULL")) +
                "|";
      }
      lines.push_back(line);
    }
    sqlite3_finalize(stmt);
    std::sort(lines.begin(), lines.end());
  }
  sqlite3_close(db);
  return rows;
}

class StoreMigrate : public postgres_cli::PostgresCliTest {
 protected:
  // Tasks with output, joined nodes (one in maintenance), messages delivered, claimed and acked,
  // and leases granted and released on job:x and job:y (audit entries, events and the sweeper
  // role come with them).
  // Returns the highest fencing token granted on job:x.
  int64_t FillThroughServe(ServeProcess& serve) {
    for (const char* script : {"echo first task", "echo second task >&2"}) {
      VoxRun run = serve.Vox({"populi", "submit", "--", "sh", "-c", script});
      EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    }
    client::ControlPlaneApi api(serve.url(), kAdminToken);
    for (const char* id : {"w1", "w2"}) {
      mesh::NodeRecord node;
      node.id = id;
      EXPECT_TRUE(api.Join(node).ok());
    }
    EXPECT_TRUE(api.Maintenance({"w2", true, 0, 3'600'000}).ok());
    for (int i = 0; i < 4; ++i) {
      mesh::NewMessage m;
      m.sender = "s";
      m.receiver = "w1";
      m.message_type = "task_submit";
      m.payload = "message " + std::to_string(i);
      m.idempotency_key = "key-" + std::to_string(i);
      EXPECT_TRUE(api.Deliver(m).ok());
    }
    mesh::InboxRequest claim;
    claim.receiver = "w1";
    claim.claimer_node_id = "w1";
    claim.max_messages = 2;
    auto claimed = api.Inbox(claim);
    EXPECT_TRUE(claimed.ok() && claimed->messages.size() == 2u);
    if (claimed.ok() && !claimed->messages.empty()) {
      mesh::AckRequest ack;
      ack.receiver = "w1";
      ack.message_id = claimed->messages[0].id;
      ack.claim_token = claimed->messages[0].claim_token;
      EXPECT_TRUE(api.Ack(ack).ok());
    }
    auto once = api.GrantLease({"job:y", "", "w1", 600'000});
    EXPECT_TRUE(once.ok() && api.ReleaseLease({"job:y", once->lease_id, "w1", 0}).ok());
    int64_t top = 0;
    for (int i = 0; i < 3; ++i) {
      auto lease = api.GrantLease({"job:x", "", "w1", 600'000});
      EXPECT_TRUE(lease.ok()) << lease.status().ToString();
      if (!lease.ok()) break;
      top = std::max(top, lease->fencing_token);
      if (i < 2) {
        EXPECT_TRUE(api.ReleaseLease({"job:x", lease->lease_id, "w1", 0}).ok());
      }
    }
    return top;
  }

  // What retention does once its window passed: job:y's only lease and the newest event go, their
  // fencing counter and id sequence stay (and must move with the store).
  static void AsRetentionWould(const std::string& db_path) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db,
                           "DELETE FROM exec_leases WHERE scope_key = 'job:y'; DELETE FROM events "
                           "WHERE id = (SELECT max(id) FROM events)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }

  // Into PostgreSQL; refused a second time; replaced with --force, every table as the source.
  static void MigrateToPostgres(ServeProcess& serve, const std::string& dsn,
                                const std::string& schema,
                                const std::map<std::string, std::vector<std::string>>& before) {
    VoxRun to =
        serve.Vox({"populi", "store", "migrate", "--to", "postgres", dsn, "--schema", schema});
    ASSERT_EQ(to.exit_code, 0) << to.out << to.err;
    EXPECT_THAT(to.out, HasSubstr("store is consistent"));
    EXPECT_THAT(to.out, HasSubstr("password=***"));
    ExpectNoPassword(to);
    VoxRun again =
        serve.Vox({"populi", "store", "migrate", "--to", "postgres", dsn, "--schema", schema});
    EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
    EXPECT_THAT(again.err, HasSubstr("not empty"));
    EXPECT_THAT(again.err, HasSubstr("--force"));
    ExpectNoPassword(again);
    VoxRun forced = serve.Vox({"populi", "store", "migrate", "--json", "--to", "postgres", dsn,
                               "--schema", schema, "--force"});
    ASSERT_EQ(forced.exit_code, 0) << forced.out << forced.err;
    ExpectNoPassword(forced);
    json::value report = Parse(forced.out);
    ASSERT_TRUE(report.is_object());
    EXPECT_EQ(report.at("check").at("ok"), true);
    for (const auto& t : report.at("tables").as_array()) {
      const std::string table(t.at("table").as_string());
      EXPECT_EQ(t.at("source").as_int64(), static_cast<int64_t>(before.at(table).size())) << table;
      EXPECT_EQ(t.at("destination"), t.at("source")) << table;
    }
  }

  // `store check` of the configured PostgreSQL store: every item passes, the audit chain included.
  static void CheckOnPostgres(ServeProcess& serve, const std::string& dsn,
                              const std::string& schema) {
    VoxRun check = serve.Vox({"populi", "store", "check", "--json"}, PostgresEnv(dsn, schema));
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    ExpectNoPassword(check);
    json::value checked = Parse(check.out);
    ASSERT_TRUE(checked.is_object());
    bool chain_checked = false;
    for (const auto& item : checked.at("items").as_array()) {
      EXPECT_EQ(item.at("ok"), true) << json::serialize(item);
      chain_checked = chain_checked || item.at("name") == "audit_chain";
    }
    EXPECT_TRUE(chain_checked) << check.out;
  }

  // A serve on the PostgreSQL copy lists the tasks and grants job:x a token above `top_token`;
  // once it holds the sweeper role, a copy out of the schema is refused.
  void ServeTheCopy(const std::string& dsn, const std::string& schema,
                    const std::map<std::string, std::vector<std::string>>& before,
                    int64_t top_token) {
    auto moved = MakeServe(PostgresEnv(dsn, schema));
    ASSERT_TRUE(moved->Start());
    client::ControlPlaneApi api(moved->url(), kAdminToken);
    auto tasks = api.ListTasks();
    ASSERT_TRUE(tasks.ok()) << tasks.status().ToString();
    EXPECT_EQ(tasks->tasks.size(), 2u);
    auto held = api.Leases(/*live_only=*/true);
    ASSERT_TRUE(held.ok());
    std::string live_id;
    for (const auto& lease : held->leases) {
      if (lease.scope_key == "job:x") live_id = lease.lease_id;
    }
    ASSERT_FALSE(live_id.empty());
    ASSERT_TRUE(api.ReleaseLease({"job:x", live_id, "w1", 0}).ok());
    auto granted = api.GrantLease({"job:x", "", "w1", 600'000});
    ASSERT_TRUE(granted.ok()) << granted.status().ToString();
    EXPECT_GT(granted->fencing_token, top_token);
    WaitForSweeperRole(api, before.at("events"));
    VoxRun live = moved->Vox({"populi", "store", "migrate", "--from", "postgres", dsn, "--schema",
                              schema, "--data-dir", dir_.Sub("while-running")});
    EXPECT_EQ(live.exit_code, 1) << live.out << live.err;
    EXPECT_THAT(live.err, HasSubstr("is in use"));
    ExpectNoPassword(live);
    moved->Stop();
  }

  // The serve's first sweeper pass takes the role and records one more control.sweeper_acquired
  // event than the copied store held.
  static void WaitForSweeperRole(client::ControlPlaneApi& api,
                                 const std::vector<std::string>& copied_events) {
    const int64_t copied =
        std::count_if(copied_events.begin(), copied_events.end(), [](const std::string& line) {
          return line.find("control.sweeper_acquired") != std::string::npos;
        });
    for (int i = 0; i < 150; ++i) {
      auto events = api.Events(0, 1000);
      ASSERT_TRUE(events.ok()) << events.status().ToString();
      int64_t n = 0;
      for (const auto& e : events->events) n += e.kind == "control.sweeper_acquired" ? 1 : 0;
      if (n > copied) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the serve on the copy never took the sweeper role";
  }
};

// The whole move of a one-box mesh: its SQLite store into PostgreSQL, checked there, refused a
// second time, back into a fresh data directory with every row as it was; a serve on the
// PostgreSQL copy serves the tasks and grants a token above every earlier one.
TEST_F(StoreMigrate, AServesStoreMovesToPostgresAndBackWithEveryRow) {
  std::string dsn;
  NeedPostgres(&dsn);
  if (dsn.empty()) return;
  const std::string schema = "migrate_" + RandomHex(6);
  auto serve = MakeServe();
  ASSERT_TRUE(serve->Start());
  const int64_t top_token = FillThroughServe(*serve);
  ASSERT_GE(top_token, 3);
  // Refused while the serve holds the store.
  VoxRun busy =
      serve->Vox({"populi", "store", "migrate", "--to", "postgres", dsn, "--schema", schema});
  EXPECT_EQ(busy.exit_code, 1) << busy.out << busy.err;
  EXPECT_THAT(busy.err, HasSubstr("in use by pid"));
  ExpectNoPassword(busy);
  serve->Stop();
  const std::string source_db = dir_.Sub("mesh/home/populi/mesh.db");
  AsRetentionWould(source_db);
  if (HasFatalFailure()) return;
  const auto before = SqliteRows(source_db);
  ASSERT_EQ(before.at("tasks").size(), 2u);
  ASSERT_GE(before.at("messages").size(), 4u);  // and the task assignments
  ASSERT_FALSE(before.at("audit_log").empty());

  MigrateToPostgres(*serve, dsn, schema, before);
  CheckOnPostgres(*serve, dsn, schema);
  const std::string back_dir = dir_.Sub("back");
  VoxRun back = serve->Vox({"populi", "store", "migrate", "--from", "postgres", dsn, "--schema",
                            schema, "--data-dir", back_dir});
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  ExpectNoPassword(back);
  EXPECT_EQ(SqliteRows(back_dir + "/mesh.db"), before);
  VoxRun refused = serve->Vox({"populi", "store", "migrate", "--from", "postgres", dsn, "--schema",
                               schema, "--data-dir", back_dir});
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("not empty"));
  ExpectNoPassword(refused);

  ServeTheCopy(dsn, schema, before, top_token);
}

// No server behind the port: store check and migrate fail at once, naming the server without
// the password; a DSN that does not parse is refused unquoted.
TEST_F(StoreMigrate, AnUnreachableServerFailsAtOnceWithoutThePassword) {
  const int port = ClosedPort();
  const std::string dsn = "host=127.0.0.1 port=" + std::to_string(port) +
                          " dbname=populi user=populi password=" + kPassword;
  auto serve = MakeServe();
  VoxRun check = serve->Vox({"populi", "store", "check"}, PostgresEnv(dsn, "populi"));
  EXPECT_EQ(check.exit_code, 3) << check.out << check.err;
  EXPECT_THAT(check.err, HasSubstr("connect to PostgreSQL"));
  ExpectNoPassword(check);

  VoxRun from = serve->Vox(
      {"populi", "store", "migrate", "--from", "postgres", dsn, "--data-dir", dir_.Sub("copy")});
  EXPECT_EQ(from.exit_code, 3) << from.out << from.err;
  ExpectNoPassword(from);
  // A DSN that does not parse is refused without being quoted.
  VoxRun garbled =
      serve->Vox({"populi", "store", "migrate", "--from", "postgres",
                  std::string("host=x password='") + kPassword, "--data-dir", dir_.Sub("copy")});
  EXPECT_EQ(garbled.exit_code, 1) << garbled.out << garbled.err;
  EXPECT_THAT(garbled.err, HasSubstr("does not parse"));
  ExpectNoPassword(garbled);
}

TEST_F(StoreMigrate, MigrateFlagsAreCheckedBeforeAnythingIsOpened) {
  auto serve = MakeServe();
  VoxRun both = serve->Vox({"populi", "store", "migrate", "--to", "postgres", "x", "--from", "y"});
  EXPECT_EQ(both.exit_code, 2) << both.out << both.err;
  VoxRun other = serve->Vox({"populi", "store", "migrate", "--to", "mysql", kPassword});
  EXPECT_EQ(other.exit_code, 2) << other.out << other.err;
  EXPECT_THAT(other.err, HasSubstr("--to takes `postgres [DSN]`"));
  ExpectNoPassword(other);
  VoxRun no_dsn = serve->Vox({"populi", "store", "migrate", "--to", "postgres"});
  EXPECT_EQ(no_dsn.exit_code, 1) << no_dsn.out << no_dsn.err;
  EXPECT_THAT(no_dsn.err, HasSubstr("no PostgreSQL connection string"));
  // A DSN after a flag that takes no value is an extra argument: refused, not quoted.
  VoxRun stray = serve->Vox({"populi", "store", "migrate", "--to", "postgres", "--force",
                             std::string("host=x password=") + kPassword});
  EXPECT_EQ(stray.exit_code, 2) << stray.out << stray.err;
  EXPECT_THAT(stray.err, HasSubstr("argument(s) that no flag takes"));
  ExpectNoPassword(stray);
}

}  // namespace
}  // namespace populi::testing
