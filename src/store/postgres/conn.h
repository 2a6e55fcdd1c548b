// A thin RAII layer over libpq for the PostgreSQL backend: a connection, and a statement that
// collects parameters and runs once. The only header of the store that includes libpq (no other
// module sees it).
//
// Each connection prepares a statement the first time its text runs and executes it by name
// after that: parsing and planning were about half of the server's CPU per statement when every
// one went unnamed. PostgreSQL may then settle on a generic plan, chosen from the table's size at
// that moment; so that a plan made while a table was empty (a sequential scan) cannot outlive
// the table's growth, each prepared statement is made again after kReprepareUses executions or
// kReprepareMs, whichever comes first, and planned afresh from the table as it is then.
//
// Statements are written with `?` (the next parameter) or `?N` (parameter N), as in the SQLite
// backend, and rewritten to `$N`. Parameters go as text and take their type from the column or
// operator they meet; blobs go as binary bytea. Errors become Status: disk full → kStoreFull, a
// unique or exclusion violation → kConflict, a deadlock or serialization failure →
// kUnavailable, text that is not UTF-8 → kInvalidArgument, the rest → kStoreIo.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/status.h"

namespace populi::store::postgres {

class Conn;

class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, std::string_view value);
  Stmt& BindBlob(int index, std::string_view bytes);
  Stmt& BindNull(int index);

  // Runs the statement on the first call; then returns true while a row is available.
  Result<bool> Step();
  // Runs the statement (when Step did not already), expecting no rows back.
  Status Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;  // a bytea column, decoded
  bool IsNull(int column) const;
  // Rows the statement changed (INSERT/UPDATE/DELETE).
  int64_t Changes() const;

 private:
  friend class Conn;
  Stmt(Conn& conn, std::string sql) : conn_(&conn), sql_(std::move(sql)) {}
  Status Execute();

  struct Param {
    std::optional<std::string> value;
    bool binary = false;
  };
  Conn* conn_;
  std::string sql_;
  std::vector<Param> params_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

class Conn {
 public:
  // When a prepared statement is made again (see the top of this file), and how many distinct
  // statement texts a connection keeps prepared (beyond that, new texts run unnamed).
  static constexpr int64_t kReprepareUses = 2000;
  static constexpr std::chrono::seconds kReprepareAge{30};
  static constexpr size_t kMaxPrepared = 512;

  // Connects and sets the session up: search_path = `schema` (created when missing),
  // synchronous_commit = on. Failures are kUnavailable with the DSN's password left out; a DSN
  // that does not parse is kInvalidArgument without quoting it. `connect_timeout_s` > 0 gives up
  // connecting after that many seconds unless the DSN sets connect_timeout itself.
  static Result<std::unique_ptr<Conn>> Open(const std::string& dsn, const std::string& schema,
                                            int connect_timeout_s = 0);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs one or more statements without parameters or results (after the deferred ones).
  Status Exec(std::string_view sql);
  // Queues a statement without parameters or results (BEGIN, SAVEPOINT, RELEASE) to go out
  // ahead of the next statement on this connection, in that statement's round trip, instead of
  // taking a round trip of its own. A deferred statement that fails makes the statement it went
  // out with fail with its error. The writer's group commit defers its transaction control.
  void Defer(std::string sql) { deferred_.push_back(std::move(sql)); }
  // Takes back the last deferred statement when it is `sql` and has not gone out; false if not.
  bool Withdraw(std::string_view sql);
  // True when a statement failed inside the open transaction (only a rollback runs now).
  bool InFailedTransaction() const { return PQtransactionStatus(conn_) == PQTRANS_INERROR; }
  Result<Stmt> Prepare(const std::string& sql) { return Stmt(*this, sql); }
  // The first column of the first row of `sql` as an integer (0 when there is no row).
  Result<int64_t> QueryInt(const std::string& sql);

  // True when the connection to the server was lost (the next use reconnects).
  bool Broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // Reconnects a broken connection and sets the session up again.
  Status Reset();
  // False when a transaction is open (or aborted) on the connection.
  bool Idle() const { return PQtransactionStatus(conn_) == PQTRANS_IDLE; }
  PGconn* raw() const { return conn_; }

 private:
  friend class Stmt;
  Conn(PGconn* conn, std::string schema) : conn_(conn), schema_(std::move(schema)) {}
  Status Setup();
  // Runs `sql` with its parameters; the deferred statements go out first in the same round trip
  // (libpq's pipeline mode). The statement's result, or the failed deferred statement's.
  PGresult* ExecParams(const std::string& sql, int count, const char* const* values,
                       const int* lengths, const int* formats);
  // The name `sql` (written with `?`) runs under: its prepared statement's, or a new one's that
  // `*prepare` asks to be made (then `*retire`, when not empty, is the name of the one it
  // replaces, to be deallocated); empty to run it unnamed (the cache is full, or the
  // transaction failed).
  std::string PreparedName(const std::string& sql, bool* prepare, std::string* retire);
  PGresult* ExecPipelined(std::vector<std::string> ahead, const std::string& name, bool prepare,
                          const std::string& sql, int count, const char* const* values,
                          const int* lengths, const int* formats);
  struct Prepared {
    std::string name;
    int64_t uses = 0;
    std::chrono::steady_clock::time_point made;
  };
  PGconn* conn_;
  std::string schema_;
  std::vector<std::string> deferred_;
  std::unordered_map<std::string, Prepared> prepared_;  // by the statement's `?` text
  int64_t next_name_ = 0;
};

// The status of a failed libpq result (or of the connection when `result` is null).
Status PgStatus(PGconn* conn, const PGresult* result, std::string_view what);

// `name` quoted as an SQL identifier.
std::string QuoteIdent(std::string_view name);

}  // namespace populi::store::postgres
