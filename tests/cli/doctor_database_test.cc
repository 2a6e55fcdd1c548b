// `vox doctor`'s database checks with [mesh.store] backend = "postgres", as the real binary:
// against the live test server, a standby of it (scripts/pg-test-server standby) whose replay is
// paused behind the primary, and a port nothing listens on. The DSN's password is never printed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>

#include "cli/postgres_cli.h"
#include "cli/serve_process.h"
#include "util/random.h"

namespace populi::testing {
namespace {

namespace json = boost::json;
using postgres_cli::ClosedPort;
using postgres_cli::ExpectNoPassword;
using postgres_cli::kPassword;
using postgres_cli::NeedPostgres;
using postgres_cli::PortOf;
using postgres_cli::PostgresEnv;
using ::testing::HasSubstr;

// The store check named `name` in `doctor --json` output, or an empty object.
json::object StoreCheck(const json::value& doctor, const std::string& name) {
  if (!doctor.is_object() || !doctor.as_object().contains("checks")) return {};
  for (const auto& c : doctor.at("checks").as_array()) {
    if (Str(c.at("section")) == "store" && Str(c.at("name")) == name) return c.as_object();
  }
  return {};
}

std::string Field(json::object& check, const char* key) {
  return check.contains(key) ? Str(check[key]) : std::string();
}

// What `cmd` printed (stdout and stderr), without its trailing newlines.
std::string CommandOutput(const std::string& cmd) {
  std::string out;
  FILE* pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  char buffer[4096];
  size_t n = 0;
  while (pipe != nullptr && (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    out.append(buffer, n);
  }
  if (pipe != nullptr) ::pclose(pipe);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The last line scripts/pg-test-server ARGS printed: the DSN when it started a server.
std::string PgTestServer(const std::string& args) {
  const std::string out =
      CommandOutput(std::string(POPULI_SOURCE_DIR_AT_BUILD) + "/scripts/pg-test-server " + args);
  const size_t newline = out.rfind('\n');
  return newline == std::string::npos ? out : out.substr(newline + 1);
}

// One statement through psql on 127.0.0.1:`port` (the test database); its unaligned output.
std::string Psql(int port, const std::string& sql) {
  const char* bin = std::getenv("POPULI_PG_BIN");
  return CommandOutput(
      std::string(bin != nullptr && *bin != '\0' ? bin : "/usr/lib/postgresql/15/bin") +
      "/psql -h 127.0.0.1 -p " + std::to_string(port) + " -U populi -d populi_test -Atq -c \"" +
      sql + "\"");
}

bool WaitUntil(const std::function<bool()>& done) {
  for (int i = 0; i < 300; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

class DoctorDatabase : public postgres_cli::PostgresCliTest {
 protected:
  // `vox doctor --json` with the node's store at `dsn` (plus `extra` environment; a fresh schema
  // unless it names VOX_MESH_STORE_SCHEMA).
  json::value Doctor(const std::string& dsn, const std::map<std::string, std::string>& extra = {}) {
    auto env = PostgresEnv(dsn, "doctor_" + RandomHex(6));
    for (const auto& [k, v] : extra) env[k] = v;
    auto serve = MakeServe();
    VoxRun run = serve->Vox({"doctor", "--json", "--fixture", CpuFixture()}, env);
    ExpectNoPassword(run);
    last_output_ = run.out + run.err;
    last_exit_ = run.exit_code;
    return Parse(run.out);
  }

  std::string last_output_;
  int last_exit_ = -1;
};

TEST_F(DoctorDatabase, PassesAgainstTheLiveServer) {
  std::string dsn;
  NeedPostgres(&dsn);
  if (dsn.empty()) return;
  json::value doctor = Doctor(dsn);
  for (const char* name : {"reachable", "server version", "schema version", "replication"}) {
    json::object check = StoreCheck(doctor, name);
    EXPECT_EQ(Field(check, "status"), "ok") << name << ": " << last_output_;
  }
  json::object reachable = StoreCheck(doctor, "reachable");
  EXPECT_THAT(Field(reachable, "message"), HasSubstr("password=***"));
  json::object schema = StoreCheck(doctor, "schema version");
  EXPECT_THAT(Field(schema, "message"), HasSubstr("holds no store yet"));
  json::object replication = StoreCheck(doctor, "replication");
  EXPECT_THAT(Field(replication, "message"), HasSubstr("primary"));
}

// Stores written by an older and by a newer vox (schema_migrations as those leave it): doctor says
// serve will migrate the older one and fails on the newer one; store check refuses both rather
// than migrate a schema that replicas of another version may run on.
TEST_F(DoctorDatabase, SchemaVersionsOlderAndNewerThanThisBinary) {
  std::string dsn;
  NeedPostgres(&dsn);
  if (dsn.empty()) return;
  const int port = PortOf(dsn);
  const std::string schema = "versions_" + RandomHex(6);
  ASSERT_EQ(Psql(port, "CREATE SCHEMA " + schema + "; CREATE TABLE " + schema +
                           ".schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT "
                           "NULL, description TEXT NOT NULL); INSERT INTO " +
                           schema + ".schema_migrations VALUES (1, 0, 'first')"),
            "");
  const std::map<std::string, std::string> at_schema = {{"VOX_MESH_STORE_SCHEMA", schema}};
  json::object older = StoreCheck(Doctor(dsn, at_schema), "schema version");
  EXPECT_EQ(Field(older, "status"), "ok") << last_output_;
  EXPECT_THAT(Field(older, "message"), HasSubstr("serve will migrate it"));
  auto serve = MakeServe();
  VoxRun check_older = serve->Vox({"populi", "store", "check"}, PostgresEnv(dsn, schema));
  EXPECT_EQ(check_older.exit_code, 1) << check_older.out << check_older.err;
  EXPECT_THAT(check_older.err, HasSubstr("older than this vox"));
  ExpectNoPassword(check_older);

  ASSERT_EQ(Psql(port, "INSERT INTO " + schema + ".schema_migrations VALUES (99, 0, 'future')"),
            "");
  json::object newer = StoreCheck(Doctor(dsn, at_schema), "schema version");
  EXPECT_EQ(Field(newer, "status"), "fail") << last_output_;
  EXPECT_THAT(Field(newer, "hint"), HasSubstr("upgrade vox"));
  VoxRun check_newer = serve->Vox({"populi", "store", "check"}, PostgresEnv(dsn, schema));
  EXPECT_EQ(check_newer.exit_code, 1) << check_newer.out << check_newer.err;
  EXPECT_THAT(check_newer.err, HasSubstr("newer than this vox"));
}

// No server behind the port: a failed check whose hint names host and port.
TEST_F(DoctorDatabase, FailsWithAHintNamingTheServerWhenNothingListens) {
  const int port = ClosedPort();
  const std::string dsn = "host=127.0.0.1 port=" + std::to_string(port) +
                          " dbname=populi user=populi password=" + kPassword;
  json::object reachable = StoreCheck(Doctor(dsn), "reachable");
  EXPECT_EQ(last_exit_, 1) << last_output_;
  EXPECT_EQ(Field(reachable, "status"), "fail") << last_output_;
  EXPECT_THAT(Field(reachable, "hint"), HasSubstr("host=127.0.0.1 port=" + std::to_string(port)));
  EXPECT_THAT(Field(reachable, "hint"), HasSubstr("from env, VOX_MESH_STORE_DSN"));
  EXPECT_THAT(Field(reachable, "message"), HasSubstr("password=***"));
}

// A standby of the test server: caught up, then with its replay paused while the primary commits,
// behind by more than mesh.store.standby_lag_warn: a warning naming the lag.
TEST_F(DoctorDatabase, ReportsAStandbysReplayLag) {
  std::string primary_dsn;
  NeedPostgres(&primary_dsn);
  if (primary_dsn.empty()) return;
  const int primary = PortOf(primary_dsn);
  const std::string dir = dir_.Sub("standby");
  const std::string standby_dsn = PgTestServer("standby " + dir + " " + std::to_string(primary));
  struct Stop {
    std::string dir;
    ~Stop() { PgTestServer("stop " + dir); }
  } stop{dir};
  const int standby = PortOf(standby_dsn);
  ASSERT_GT(standby, 0) << standby_dsn;
  Psql(primary,
       "CREATE TABLE IF NOT EXISTS doctor_standby_probe (x int); INSERT INTO "
       "doctor_standby_probe VALUES (1)");
  ASSERT_TRUE(WaitUntil([&] {
    return Psql(standby,
                "SELECT pg_last_xact_replay_timestamp() IS NOT NULL AND "
                "pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()") == "t";
  }));
  json::object caught_up =
      StoreCheck(Doctor(standby_dsn + " password=" + kPassword), "replication");
  EXPECT_EQ(Field(caught_up, "status"), "ok") << last_output_;
  EXPECT_THAT(Field(caught_up, "message"), HasSubstr("standby, caught up"));
  EXPECT_THAT(Field(caught_up, "hint"), HasSubstr("target_session_attrs=read-write"));

  ASSERT_EQ(Psql(standby, "SELECT pg_wal_replay_pause()"), "");
  Psql(primary, "INSERT INTO doctor_standby_probe VALUES (2)");
  ASSERT_TRUE(WaitUntil([&] {
    return Psql(standby, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()") == "t";
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  json::object behind = StoreCheck(
      Doctor(standby_dsn + " password=" + kPassword, {{"VOX_MESH_STORE_STANDBY_LAG_WARN", "1"}}),
      "replication");
  EXPECT_EQ(Field(behind, "status"), "warn") << last_output_;
  EXPECT_THAT(Field(behind, "message"), HasSubstr("behind the primary"));
  ASSERT_TRUE(behind.contains("lag_ms")) << last_output_;
  EXPECT_GE(behind["lag_ms"].as_int64(), 1000);
  EXPECT_EQ(behind["limit_ms"].as_int64(), 1000);
}

}  // namespace
}  // namespace populi::testing
