// The PostgreSQL connection's prepared statements (store/postgres/conn.h): a statement made again
// after kReprepareUses runs leaves no older copy behind on the server, a statement the session
// lost behind the cache's back fails once and is prepared anew, a connection reset prepares
// afresh, and a statement whose Parse fails reports the server's error.
#include <gtest/gtest.h>

#include <string>

#include "store/conformance.h"
#include "store/postgres/conn.h"
#include "util/random.h"

namespace populi::store::testing {
namespace {

using postgres::Conn;
using postgres::Stmt;

// `SELECT ? + 1` on `conn` with `value`: the result, or -1 when the statement failed.
int64_t PlusOne(Conn& conn, int64_t value) {
  auto stmt = conn.Prepare("SELECT ?::bigint + 1");
  if (!stmt.ok()) return -1;
  stmt->Bind(1, value);
  auto row = stmt->Step();
  return row.ok() && *row ? stmt->Int(0) : -1;
}

TEST(PostgresConn, PreparedStatementsAreMadeAgainLostAndResetWithoutGoingWrong) {
  POPULI_REQUIRE_POSTGRES();
  auto conn = Conn::Open(TestPostgresDsn(), "conn_" + RandomHex(6));
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Conn& c = **conn;
  for (int64_t i = 0; i <= Conn::kReprepareUses + 1; ++i) ASSERT_EQ(PlusOne(c, i), i + 1);
  // Made again once: the old one deallocated, so the server holds that one and this count's.
  auto held = c.QueryInt("SELECT count(*) FROM pg_prepared_statements");
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(*held, 2);

  // Gone from the session behind the cache (as behind a transaction pooler): fails once, then
  // is prepared anew.
  ASSERT_TRUE(c.Exec("DEALLOCATE ALL").ok());
  EXPECT_EQ(PlusOne(c, 1), -1);
  EXPECT_EQ(PlusOne(c, 1), 2);

  // A session ended by the server: the reset connection prepares everything again.
  auto pid = c.QueryInt("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok());
  auto admin = Conn::Open(TestPostgresDsn(), "public");
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  ASSERT_TRUE(
      (*admin)->QueryInt("SELECT count(pg_terminate_backend(" + std::to_string(*pid) + "))").ok());
  EXPECT_EQ(PlusOne(c, 5), -1);
  ASSERT_TRUE(c.Broken());
  ASSERT_TRUE(c.Reset().ok());
  EXPECT_EQ(PlusOne(c, 5), 6);

  // A Parse that fails, inside a transaction as the writer runs them: the server's own error,
  // not "transaction aborted".
  c.Defer("BEGIN");
  auto bad = c.Prepare("SELECT x FROM no_such_table WHERE x = ?");
  ASSERT_TRUE(bad.ok());
  bad->Bind(1, int64_t{1});
  Status failed = bad->Run();
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("no_such_table"), std::string::npos) << failed.ToString();
  ASSERT_TRUE(c.Exec("ROLLBACK").ok());
  EXPECT_EQ(PlusOne(c, 7), 8);
}

}  // namespace
}  // namespace populi::store::testing
