// `vox populi store check | repair | migrate` run as a real process ($VOX_BIN).
#include <sqlite3.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "store/legacy_import.h"
#include "store/store_test_util.h"

namespace populi::store::testing {
namespace {

namespace fs = std::filesystem;

struct VoxRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// `postgres_home`: run with that VOX_HOME and a PostgreSQL store configured in the environment.
VoxRun Vox(const std::string& args, const std::string& postgres_home = {}) {
  const char* vox = std::getenv("VOX_BIN");
  EXPECT_NE(vox, nullptr) << "VOX_BIN is not set (run through ctest)";
  VoxRun run;
  if (vox == nullptr) return run;
  const std::string env =
      postgres_home.empty()
          ? std::string()
          : "VOX_HOME=" + postgres_home +
                " VOX_MESH_STORE_BACKEND=postgres VOX_MESH_STORE_DSN='host=db password=pw-value' ";
  FILE* pipe = ::popen((env + std::string(vox) + " " + args + " 2>&1").c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

boost::json::object FirstJsonObject(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text.substr(0, text.find('\n')), ec);
  EXPECT_FALSE(ec) << text;
  return !ec && v.is_object() ? v.get_object() : boost::json::object{};
}

TEST(StoreCli, CheckPassesOnAHealthyStoreAndFailsOnAViolation) {
  TempDir dir;
  {
    auto store = OpenSqliteOrDie(dir.path());
    ASSERT_TRUE(
        store->Write([](WriteTxn& t) { return t.Deliver(Msg("a", "b"), 1).status(); }).ok());
  }
  VoxRun ok = Vox("populi store check --json --data-dir " + dir.path());
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  auto report = FirstJsonObject(ok.out);
  EXPECT_EQ(report["ok"], true);
  EXPECT_EQ(report["schema_version"], 6);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(SqliteDatabasePath(dir.path()).c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE messages SET state = 'claimed'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  VoxRun bad = Vox("populi store check --json --data-dir " + dir.path());
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  report = FirstJsonObject(bad.out);
  EXPECT_EQ(report["ok"], false);
  bool orphan_reported = false;
  for (const auto& item : report["items"].as_array()) {
    if (item.at("name") == "no_orphan_claims") orphan_reported = item.at("ok") == false;
  }
  EXPECT_TRUE(orphan_reported) << bad.out;

  VoxRun repaired = Vox("populi store repair --data-dir " + dir.path());
  EXPECT_EQ(repaired.exit_code, 0) << repaired.out;
  EXPECT_NE(repaired.out.find("returned to pending"), std::string::npos) << repaired.out;
  EXPECT_EQ(Vox("populi store check --data-dir " + dir.path()).exit_code, 0);
}

TEST(StoreCli, CheckWithoutAStoreSaysWhatToDo) {
  TempDir dir;
  VoxRun missing = Vox("populi store check --data-dir " + dir.path());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("no store in"), std::string::npos) << missing.out;
  std::ofstream(fs::path(dir.path()) / kLegacyA2aFile) << "[]";
  VoxRun legacy = Vox("populi store check --data-dir " + dir.path());
  EXPECT_EQ(legacy.exit_code, 1);
  EXPECT_NE(legacy.out.find("vox populi store migrate --from"), std::string::npos) << legacy.out;
}

// repair and the legacy import work on SQLite only; check reads the configured PostgreSQL store
// (here a server that does not resolve) and names it without its password.
TEST(StoreCli, VerbsSayTheyAreForSqliteWhenTheStoreIsInPostgres) {
  TempDir home;
  VoxRun run = Vox("populi store repair", home.path());
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("keeps it in PostgreSQL"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("store migrate --from postgres"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("pw-value"), std::string::npos) << run.out;
  VoxRun check = Vox("populi store check", home.path());
  EXPECT_EQ(check.exit_code, 3) << check.out;
  EXPECT_NE(check.out.find("connect to PostgreSQL (host=db password=***)"), std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.find("pw-value"), std::string::npos) << check.out;
}

TEST(StoreCli, MigrateImportsFixturesOnceAndRenamesThem) {
  TempDir legacy;
  TempDir data;
  for (const char* name : {kLegacyA2aFile, kLegacyLeaseFile}) {
    fs::copy_file(fs::path(STORE_FIXTURE_DIR) / "legacy" / name, fs::path(legacy.path()) / name);
  }
  VoxRun first =
      Vox("populi store migrate --json --from " + legacy.path() + " --data-dir " + data.path());
  ASSERT_EQ(first.exit_code, 0) << first.out;
  auto report = FirstJsonObject(first.out);
  EXPECT_EQ(report["messages_imported"], 4);
  EXPECT_EQ(report["leases_imported"], 3);
  EXPECT_EQ(report["check"].as_object().at("ok"), true);
  EXPECT_TRUE(fs::exists(fs::path(legacy.path()) / "a2a-store.json.migrated"));
  VoxRun second =
      Vox("populi store migrate --from " + legacy.path() + " --data-dir " + data.path());
  EXPECT_EQ(second.exit_code, 0) << second.out;
  EXPECT_NE(second.out.find("nothing to migrate"), std::string::npos) << second.out;
  auto store = OpenSqliteOrDie(data.path());
  EXPECT_EQ(*store->CountPending("200"), 2);
}

TEST(StoreCli, VerbsRefuseAStoreInUse) {
  TempDir dir;
  auto store = OpenSqliteOrDie(dir.path());
  VoxRun busy = Vox("populi store check --data-dir " + dir.path());
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.out.find("is in use by pid"), std::string::npos) << busy.out;
}

}  // namespace
}  // namespace populi::store::testing
