#include <map>
#include <mutex>

#include "store/conformance.h"
#include "store/postgres.h"
#include "store/sqlite.h"
#include "util/random.h"

namespace populi::store::testing {

std::string TestPostgresDsn() {
  const char* dsn = std::getenv("POPULI_TEST_PG_DSN");
  return dsn ? dsn : "";
}

std::string NoPostgresMessage() {
  return "no PostgreSQL server for the postgres backend: set POPULI_TEST_PG_DSN, e.g. "
         "`export POPULI_TEST_PG_DSN=$(scripts/pg-test-server start /tmp/populi-pg/pg)` "
         "(stop it with `scripts/pg-test-server stop /tmp/populi-pg/pg`); scripts/test does this "
         "itself";
}

namespace {

// Each test directory gets its own schema in the shared test database (kept across Reopen).
std::string SchemaFor(const std::string& dir) {
  static std::mutex mu;
  static std::map<std::string, std::string> schemas;
  std::lock_guard<std::mutex> guard(mu);
  auto [it, inserted] = schemas.try_emplace(dir);
  if (inserted) it->second = "conformance_" + RandomHex(6);
  return it->second;
}

}  // namespace

const std::vector<Backend>& Backends() {
  static const std::vector<Backend> kBackends = {
      {"sqlite",
       [](const std::string& dir) {
         SqliteOptions options;
         options.directory = dir;
         options.reader_pool_size = 2;
         return OpenSqliteStore(options);
       }},
      {"postgres",
       [](const std::string& dir) {
         PostgresOptions options;
         options.dsn = TestPostgresDsn();
         options.schema = SchemaFor(dir);
         options.reader_pool_size = 2;
         return OpenPostgresStore(options);
       },
       [] { return TestPostgresDsn().empty() ? NoPostgresMessage() : std::string(); }},
  };
  return kBackends;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace populi::store::testing
