// InspectPostgresStore and PostgresServerAddress (store/postgres.h): read-only looks at a server
// and the store in one schema, for `vox doctor` and the store verbs.
#include <cstdlib>
#include <string>

#include "store/postgres.h"
#include "store/postgres/conn.h"
#include "store/postgres/schema.h"

namespace populi::store {
namespace {

// The value of `keyword` among libpq's parsed options; empty when unset.
std::string ParsedOption(const PQconninfoOption* options, std::string_view keyword) {
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (keyword == o->keyword && o->val != nullptr) return o->val;
  }
  return {};
}

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// The standby's replay lag and whether it replayed everything it received.
Status ReadReplication(postgres::Conn& conn, PostgresInspection& out) {
  POPULI_ASSIGN_OR_RETURN(
      postgres::Stmt stmt,
      conn.Prepare("SELECT (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * "
                   "1000)::bigint, (pg_last_wal_receive_lsn() IS NOT NULL AND "
                   "pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn())::text"));
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::Ok();
  if (!stmt.IsNull(0)) out.replay_lag_ms = stmt.Int(0);
  out.replay_caught_up = stmt.Text(1) == "true";
  return Status::Ok();
}

}  // namespace

std::string PostgresServerAddress(std::string_view dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(dsn).c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return {};
  std::string host = ParsedOption(options, "host");
  if (host.empty()) host = ParsedOption(options, "hostaddr");
  std::string port = ParsedOption(options, "port");
  PQconninfoFree(options);
  if (host.empty()) host = EnvOr("PGHOST", "the local socket");
  if (port.empty()) port = EnvOr("PGPORT", "5432");
  return "host=" + host + " port=" + port;
}

Result<PostgresInspection> InspectPostgresStore(const PostgresOptions& options,
                                                int connect_timeout_s) {
  PostgresInspection out;
  out.location = RedactPostgresDsn(options.dsn) + " schema " + postgres::QuoteIdent(options.schema);
  out.binary_schema_version = postgres::LatestSchemaVersion();
  POPULI_ASSIGN_OR_RETURN(std::unique_ptr<postgres::Conn> conn,
                          postgres::Conn::Open(options.dsn, options.schema, connect_timeout_s));
  POPULI_ASSIGN_OR_RETURN(int64_t version_num, conn->QueryInt("SHOW server_version_num"));
  out.server_version_num = static_cast<int>(version_num);
  {
    POPULI_ASSIGN_OR_RETURN(postgres::Stmt stmt, conn->Prepare("SHOW server_version"));
    POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) out.server_version = stmt.Text(0);
  }
  POPULI_ASSIGN_OR_RETURN(out.schema_version, postgres::ReadSchemaVersion(*conn));
  POPULI_ASSIGN_OR_RETURN(int64_t recovery, conn->QueryInt("SELECT pg_is_in_recovery()"));
  out.in_recovery = recovery != 0;
  if (out.in_recovery) POPULI_RETURN_IF_ERROR(ReadReplication(*conn, out));
  return out;
}

}  // namespace populi::store
