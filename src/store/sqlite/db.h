// A thin RAII layer over the SQLite C API: a connection that owns a statement cache, and a
// statement handle with bind/step/column helpers. Errors become Status with SQLITE_FULL mapped to
// kStoreFull and SQLITE_IOERR* to kStoreIo, so callers never see raw result codes.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/status.h"

namespace populi::store::sqlite {

// Maps an SQLite result code (and the connection's message) to a Status. `what` says which
// operation failed ("insert message"); it prefixes the message.
Status SqliteStatus(int rc, sqlite3* db, std::string_view what);

class Db;

// A prepared statement borrowed from a Db's cache. Resets and clears bindings when it goes out of
// scope, so the cached statement is ready for the next user. Bind indexes are 1-based.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, std::string_view value);
  Stmt& BindNull(int index);

  // Steps once. Returns true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, expecting no rows back.
  Status Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Db {
 public:
  // Opens (creating when `create`) the database file. `read_only` opens a reader connection.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool create, bool read_only,
                                          int busy_timeout_ms);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results (pragmas, DDL, BEGIN/COMMIT).
  Status Exec(std::string_view sql);
  // A cached prepared statement for `sql` (prepared on first use).
  Result<Stmt> Prepare(const std::string& sql);
  // Runs one statement without results through the cache: for the transaction-control
  // statements the writer runs on every write, where re-parsing would cost more than the write.
  Status RunCached(const std::string& sql);
  // The first column of the first row of `sql` as an integer (0 when there is no row).
  Result<int64_t> QueryInt(const std::string& sql);

  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  // True when no transaction is open (SQLite rolls back on some errors by itself).
  bool AutoCommit() const { return sqlite3_get_autocommit(db_) != 0; }
  sqlite3* raw() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace populi::store::sqlite
