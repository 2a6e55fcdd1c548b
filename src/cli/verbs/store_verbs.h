// What the `vox populi store …` verbs share (store.cc: check, repair, the legacy migrate and the
// verb definitions; store_migrate.cc: the copies between SQLite and PostgreSQL).
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cli/verb.h"
#include "config/config.h"
#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::cli::store_verbs {

struct StoreFlags {
  std::string data_dir;           // empty: [mesh.store] path from the configuration
  std::vector<std::string> from;  // migrate: DIR (legacy JSON), or "postgres" [DSN]
  std::vector<std::string> to;    // migrate: "postgres" [DSN]
  std::string schema;             // migrate: PostgreSQL schema (default [mesh.store] schema)
  bool force = false;             // migrate: replace what the destination holds
};

// How long the verbs wait for a PostgreSQL server to accept the connection.
inline constexpr int kPostgresConnectTimeoutSecs = 10;

int64_t WallClockNowMs();

boost::json::object CheckJson(const store::CheckReport& report);
void PrintCheck(std::ostream& out, const store::CheckReport& report);

// Ok when `dir` holds a SQLite store; otherwise what to do (a legacy-only directory names the
// migrate command).
Status RequireExistingStore(const std::string& dir);

// `migrate --to postgres [DSN]` / `--from postgres [DSN]` (store_migrate.cc).
void RunPostgresMigrate(Context& ctx, const StoreFlags& flags);
// `check` of the PostgreSQL store the configuration names (store_migrate.cc).
void RunPostgresCheck(Context& ctx, const config::Config& cfg);

}  // namespace populi::cli::store_verbs
