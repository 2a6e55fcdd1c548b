// Helpers for the store tests: a temporary directory removed on scope exit, and small builders.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "mesh/types.h"
#include "store/mesh_store.h"
#include "store/sqlite.h"

namespace populi::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "populi-store-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline mesh::NewMessage Msg(std::string sender, std::string receiver, std::string key = {},
                            uint8_t priority = 128) {
  mesh::NewMessage m;
  m.sender = std::move(sender);
  m.receiver = std::move(receiver);
  m.message_type = "job_submit";
  m.payload = "{\"n\":1}";
  m.idempotency_key = std::move(key);
  m.priority = priority;
  return m;
}

inline std::unique_ptr<MeshStore> OpenSqliteOrDie(const std::string& dir,
                                                  Durability durability = Durability::kFull) {
  SqliteOptions options;
  options.directory = dir;
  options.durability = durability;
  auto store = OpenSqliteStore(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Runs raw SQL against a closed SQLite store's database file, as an operator (or a bug) could.
inline void RawSql(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(SqliteDatabasePath(dir).c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

}  // namespace populi::store::testing
