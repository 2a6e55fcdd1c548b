// `vox populi store migrate --to postgres [DSN]` and `--from postgres [DSN]`: the node's SQLite
// store copied into a PostgreSQL schema, or back (store::CopyStore: one transaction on the
// destination, then verified); and `store check` of a PostgreSQL store. The DSN is printed only
// redacted (store::RedactPostgresDsn).
#include <boost/json.hpp>
#include <iomanip>
#include <memory>
#include <string>

#include "cli/verb.h"
#include "cli/verbs/store_verbs.h"
#include "config/config.h"
#include "store/postgres.h"
#include "store/sqlite.h"
#include "store/transfer.h"

namespace populi::cli::store_verbs {
namespace {

enum class Direction { kToPostgres, kFromPostgres };

// The PostgreSQL end from `postgres [DSN]`: the DSN given, else [mesh.store] dsn; --schema, else
// [mesh.store] schema.
Result<store::PostgresOptions> PostgresEnd(const std::vector<std::string>& values,
                                           const StoreFlags& flags, const config::Config& cfg) {
  store::PostgresOptions options;
  options.dsn = values.size() > 1 ? values[1] : cfg.GetString("mesh.store.dsn");
  options.schema = flags.schema.empty() ? cfg.GetString("mesh.store.schema") : flags.schema;
  options.reader_pool_size = 2;
  if (options.dsn.empty()) {
    return InvalidArgument("no PostgreSQL connection string",
                           "pass it after `postgres`, or set mesh.store.dsn in the user config "
                           "or VOX_MESH_STORE_DSN");
  }
  return options;
}

// Reads the server without changing it; with `must_hold_store`, a schema without a store is
// kNotFound. A store at another schema version than this binary's is refused: opening would
// migrate it, and replicas of another version may still run on it.
Result<store::PostgresInspection> InspectEnd(const store::PostgresOptions& options,
                                             bool must_hold_store) {
  POPULI_ASSIGN_OR_RETURN(store::PostgresInspection in,
                          store::InspectPostgresStore(options, kPostgresConnectTimeoutSecs));
  if (must_hold_store && in.schema_version == 0) {
    return NotFound("no store in " + in.location,
                    "check the DSN and --schema (default [mesh.store] schema)");
  }
  const std::string versions = "schema version " + std::to_string(in.schema_version) +
                               ", this vox's is " + std::to_string(in.binary_schema_version);
  if (in.schema_version > in.binary_schema_version) {
    return FailedPrecondition("store " + in.location + " is newer than this vox (" + versions + ")",
                              "run the newer vox that wrote it");
  }
  if (in.schema_version > 0 && in.schema_version < in.binary_schema_version) {
    return FailedPrecondition(
        "store " + in.location + " is older than this vox (" + versions + ")",
        "`vox populi serve` of this version migrates it when it starts: upgrade the replicas "
        "first, then try again");
  }
  return in;
}

Result<std::unique_ptr<store::MeshStore>> OpenSqliteEnd(const std::string& dir) {
  store::SqliteOptions options;
  options.directory = dir;
  options.reader_pool_size = 2;
  return store::OpenSqliteStore(options);
}

void PrintCopy(Context& ctx, const std::string& from, const std::string& to, Direction direction,
               const store::CopyReport& report) {
  if (ctx.global.json) {
    boost::json::array tables;
    for (const auto& t : report.tables) {
      tables.push_back(boost::json::object{
          {"table", t.table}, {"source", t.source}, {"destination", t.destination}});
    }
    *ctx.out << boost::json::serialize(boost::json::object{{"from", from},
                                                           {"to", to},
                                                           {"tables", std::move(tables)},
                                                           {"check", CheckJson(report.check)}})
             << "\n";
    return;
  }
  std::ostream& out = *ctx.out;
  out << "copied " << from << "\n  into " << to << "\n";
  out << "  " << std::left << std::setw(18) << "table" << std::right << std::setw(10) << "source"
      << std::setw(13) << "destination"
      << "\n";
  for (const auto& t : report.tables) {
    out << "  " << std::left << std::setw(18) << t.table << std::right << std::setw(10) << t.source
        << std::setw(13) << t.destination << "\n";
  }
  out << "verified:\n";
  PrintCheck(out, report.check);
  if (!report.check.ok) return;
  out << (direction == Direction::kToPostgres
              ? "next: set [mesh.store] backend = \"postgres\" with this dsn and schema in the "
                "user config, then start `vox populi serve`\n"
              : "next: set [mesh.store] backend = \"sqlite\" (and path, if not the default data "
                "directory) in the user config, then start `vox populi serve`\n");
}

// Opens both ends (the SQLite one takes its directory lock, refusing a running serve; the
// PostgreSQL one is refused while a serve holds a role in it) and copies.
Status Migrate(Context& ctx, const StoreFlags& flags, Direction direction) {
  POPULI_ASSIGN_OR_RETURN(config::Config cfg, config::Load());
  const std::string dir = flags.data_dir.empty() ? cfg.data_dir() : flags.data_dir;
  const bool to_postgres = direction == Direction::kToPostgres;
  POPULI_ASSIGN_OR_RETURN(store::PostgresOptions pg_options,
                          PostgresEnd(to_postgres ? flags.to : flags.from, flags, cfg));
  if (to_postgres) POPULI_RETURN_IF_ERROR(RequireExistingStore(dir));
  POPULI_ASSIGN_OR_RETURN(store::PostgresInspection in,
                          InspectEnd(pg_options, /*must_hold_store=*/!to_postgres));
  // The SQLite end first: its lock refuses a serve that runs on it before anything is written.
  POPULI_ASSIGN_OR_RETURN(std::unique_ptr<store::MeshStore> sqlite, OpenSqliteEnd(dir));
  POPULI_ASSIGN_OR_RETURN(std::unique_ptr<store::MeshStore> postgres,
                          store::OpenPostgresStore(pg_options));
  POPULI_RETURN_IF_ERROR(
      store::RefuseHeldRoles(*postgres, "the PostgreSQL store " + in.location, WallClockNowMs()));
  const std::string sqlite_location = store::SqliteDatabasePath(dir);
  store::CopyOptions options;
  options.replace = flags.force;
  store::MeshStore& from = to_postgres ? *sqlite : *postgres;
  store::MeshStore& to = to_postgres ? *postgres : *sqlite;
  Result<store::CopyReport> report = store::CopyStore(from, to, options);
  if (!report.ok() && report.status().code() == Code::kAlreadyExists) {
    return {Code::kAlreadyExists, report.status().message(),
            "copy into an empty " +
                std::string(to_postgres ? "schema (--schema)"
                                        : "data "
                                          "directory (--data-dir)") +
                ", or pass --force to replace what it holds"};
  }
  POPULI_RETURN_IF_ERROR(report.status());
  PrintCopy(ctx, to_postgres ? sqlite_location : in.location,
            to_postgres ? in.location : sqlite_location, direction, *report);
  if (!report->check.ok) ctx.exit_code = kExitFailure;
  return Status::Ok();
}

}  // namespace

void RunPostgresMigrate(Context& ctx, const StoreFlags& flags) {
  const Direction direction = flags.to.empty() ? Direction::kFromPostgres : Direction::kToPostgres;
  const std::vector<std::string>& values = flags.to.empty() ? flags.from : flags.to;
  if (values.front() != "postgres") {
    return (void)ctx.FailUsage("--to takes `postgres [DSN]`",
                               "e.g. --to postgres 'host=db.internal dbname=populi user=populi'");
  }
  if (Status s = Migrate(ctx, flags, direction); !s.ok()) {
    ctx.Fail(s.WithContext("migrate"));
  }
}

void RunPostgresCheck(Context& ctx, const config::Config& cfg) {
  store::PostgresOptions options;
  options.dsn = cfg.GetString("mesh.store.dsn");
  options.schema = cfg.GetString("mesh.store.schema");
  options.reader_pool_size = 1;
  if (options.dsn.empty()) {
    return (void)ctx.Fail(InvalidArgument(
        "[mesh.store] backend = \"postgres\" needs a connection string",
        "set mesh.store.dsn in the user config or VOX_MESH_STORE_DSN (never in Vox.toml)"));
  }
  auto in = InspectEnd(options, /*must_hold_store=*/true);
  if (!in.ok()) return (void)ctx.Fail(in.status());
  // At this binary's schema version: opening migrates nothing.
  auto opened = store::OpenPostgresStore(options);
  if (!opened.ok()) return (void)ctx.Fail(opened.status());
  auto report = (*opened)->Check();
  if (!report.ok()) return (void)ctx.Fail(report.status());
  if (ctx.global.json) {
    boost::json::object o = CheckJson(*report);
    o["location"] = in->location;
    *ctx.out << boost::json::serialize(o) << "\n";
  } else {
    *ctx.out << "store " << in->location << "\n";
    PrintCheck(*ctx.out, *report);
  }
  if (!report->ok) ctx.exit_code = kExitFailure;
}

}  // namespace populi::cli::store_verbs
