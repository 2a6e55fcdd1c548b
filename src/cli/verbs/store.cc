// `vox populi store check | repair | migrate`: operator verbs on the node's durable store. On
// SQLite they open the store directory directly (taking its lock), so they refuse to run beside a
// serve that holds it; `check` also reads a PostgreSQL store, and `migrate` copies a store between
// SQLite and PostgreSQL (store_migrate.cc).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <ostream>

#include "cli/verb.h"
#include "cli/verbs/store_verbs.h"
#include "config/config.h"
#include "store/legacy_import.h"
#include "store/sqlite.h"

namespace populi::cli {
namespace store_verbs {

int64_t WallClockNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status RequireExistingStore(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(store::SqliteDatabasePath(dir), ec)) return Status::Ok();
  POPULI_RETURN_IF_ERROR(store::RefuseLegacyOnlyDir(dir));
  return NotFound("no store in " + dir,
                  "pass --data-dir, or start `vox populi serve` once to create it");
}

boost::json::object CheckJson(const store::CheckReport& report) {
  boost::json::object o;
  o["ok"] = report.ok;
  o["schema_version"] = report.schema_version;
  boost::json::array items;
  for (const auto& item : report.items) {
    items.push_back(
        boost::json::object{{"name", item.name}, {"ok", item.ok}, {"detail", item.detail}});
  }
  o["items"] = std::move(items);
  return o;
}

void PrintCheck(std::ostream& out, const store::CheckReport& report) {
  for (const auto& item : report.items) {
    out << (item.ok ? "  ok    " : "  FAIL  ") << item.name << ": " << item.detail << "\n";
  }
  out << (report.ok ? "store is consistent" : "store has violations") << " (schema version "
      << report.schema_version << ")\n";
}

}  // namespace store_verbs

namespace {

namespace json = boost::json;
using store_verbs::CheckJson;
using store_verbs::PrintCheck;
using store_verbs::RequireExistingStore;
using store_verbs::StoreFlags;
using store_verbs::WallClockNowMs;

Result<std::string> ResolveDataDir(const StoreFlags& flags) {
  if (!flags.data_dir.empty()) return flags.data_dir;
  POPULI_ASSIGN_OR_RETURN(config::Config cfg, config::Load());
  if (cfg.GetString("mesh.store.backend") == "postgres") {
    return FailedPrecondition(
        "this verb works on the SQLite store; this configuration keeps it in PostgreSQL",
        "back a PostgreSQL store up and repair it with its own tools (pg_dump, amcheck), copy it "
        "with `vox populi store migrate --from postgres`, or pass --data-dir DIR for a SQLite "
        "store directory");
  }
  return cfg.data_dir();
}

void RunCheck(Context& ctx, const StoreFlags& flags) {
  if (flags.data_dir.empty()) {
    auto cfg = config::Load();
    if (!cfg.ok()) return (void)ctx.Fail(cfg.status());
    if (cfg->GetString("mesh.store.backend") == "postgres") {
      return store_verbs::RunPostgresCheck(ctx, *cfg);
    }
  }
  auto dir = ResolveDataDir(flags);
  if (!dir.ok()) return (void)ctx.Fail(dir.status());
  if (Status s = RequireExistingStore(*dir); !s.ok()) return (void)ctx.Fail(s);
  store::SqliteOptions options;
  options.directory = *dir;
  options.reader_pool_size = 1;
  auto opened = store::OpenSqliteStore(options);
  if (!opened.ok()) return (void)ctx.Fail(opened.status());
  auto report = (*opened)->Check();
  if (!report.ok()) return (void)ctx.Fail(report.status());
  if (ctx.global.json) {
    json::object o = CheckJson(*report);
    o["location"] = store::SqliteDatabasePath(*dir);
    *ctx.out << json::serialize(o) << "\n";
  } else {
    *ctx.out << "store " << store::SqliteDatabasePath(*dir) << "\n";
    PrintCheck(*ctx.out, *report);
  }
  if (!report->ok) {
    ctx.exit_code = kExitFailure;
    if (!ctx.global.json) *ctx.err << "hint: run `vox populi store repair` (it backs up first)\n";
  }
}

void RunRepair(Context& ctx, const StoreFlags& flags) {
  auto dir = ResolveDataDir(flags);
  if (!dir.ok()) return (void)ctx.Fail(dir.status());
  if (Status s = RequireExistingStore(*dir); !s.ok()) return (void)ctx.Fail(s);
  store::SqliteOptions options;
  options.directory = *dir;
  auto report = store::RepairSqliteStore(options, WallClockNowMs());
  if (!report.ok()) return (void)ctx.Fail(report.status());
  if (ctx.global.json) {
    json::object o;
    o["backup"] = report->backup_path;
    json::array actions;
    for (const auto& a : report->actions) actions.push_back(json::string(a));
    o["actions"] = std::move(actions);
    o["before"] = CheckJson(report->before);
    o["after"] = CheckJson(report->after);
    *ctx.out << json::serialize(o) << "\n";
  } else {
    *ctx.out << "repair of " << store::SqliteDatabasePath(*dir) << ":\n";
    for (const auto& a : report->actions) *ctx.out << "  - " << a << "\n";
    *ctx.out << "after repair:\n";
    PrintCheck(*ctx.out, report->after);
  }
  if (!report->after.ok) ctx.exit_code = kExitFailure;
}

// `migrate --from DIR`: the earlier version's JSON files.
void RunLegacyMigrate(Context& ctx, const StoreFlags& flags) {
  const std::string& from_dir = flags.from.front();
  std::error_code ec;
  if (!std::filesystem::is_directory(from_dir, ec)) {
    return (void)ctx.FailUsage("--from " + from_dir + " is not a directory",
                               "name the directory holding a2a-store.json, or use "
                               "`--from postgres [DSN]` to copy a PostgreSQL store");
  }
  if (!flags.schema.empty() || flags.force) {
    return (void)ctx.FailUsage("--schema and --force apply to copies with PostgreSQL",
                               "drop them, or use --to postgres / --from postgres");
  }
  auto dir = ResolveDataDir(flags);
  if (!dir.ok()) return (void)ctx.Fail(dir.status());
  store::SqliteOptions options;
  options.directory = *dir;
  options.reader_pool_size = 1;
  auto opened = store::OpenSqliteStore(options);
  if (!opened.ok()) return (void)ctx.Fail(opened.status());
  auto report = store::ImportLegacyJson(**opened, from_dir, WallClockNowMs());
  if (!report.ok()) return (void)ctx.Fail(report.status().WithContext("migrate"));
  auto check = (*opened)->Check();
  if (!check.ok()) return (void)ctx.Fail(check.status());
  if (ctx.global.json) {
    json::object o;
    o["store"] = store::SqliteDatabasePath(*dir);
    o["messages_imported"] = report->messages_imported;
    o["messages_skipped"] = report->messages_skipped;
    o["leases_imported"] = report->leases_imported;
    o["leases_skipped"] = report->leases_skipped;
    json::array renamed, notes;
    for (const auto& r : report->renamed) renamed.push_back(json::string(r));
    for (const auto& n : report->notes) notes.push_back(json::string(n));
    o["renamed"] = std::move(renamed);
    o["notes"] = std::move(notes);
    o["check"] = CheckJson(*check);
    *ctx.out << json::serialize(o) << "\n";
  } else if (report->renamed.empty()) {
    *ctx.out << "nothing to migrate in " << from_dir << " (no " << store::kLegacyA2aFile << " or "
             << store::kLegacyLeaseFile << ")\n";
  } else {
    *ctx.out << "migrated into " << store::SqliteDatabasePath(*dir) << ":\n"
             << "  messages: " << report->messages_imported << " imported, "
             << report->messages_skipped << " already present\n"
             << "  exec leases: " << report->leases_imported << " imported, "
             << report->leases_skipped << " already present\n";
    for (const auto& n : report->notes) *ctx.out << "  note: " << n << "\n";
    for (const auto& r : report->renamed) *ctx.out << "  renamed " << r << " to *.migrated\n";
    PrintCheck(*ctx.out, *check);
  }
  if (!check->ok) ctx.exit_code = kExitFailure;
}

void RunMigrate(Context& ctx, const StoreFlags& flags) {
  if (flags.from.empty() == flags.to.empty()) {
    return (void)ctx.FailUsage("pass one of --from and --to",
                               "--from DIR imports legacy JSON files; --to postgres [DSN] and "
                               "--from postgres [DSN] copy the store to and from PostgreSQL");
  }
  if (!flags.to.empty() || flags.from.front() == "postgres") {
    return store_verbs::RunPostgresMigrate(ctx, flags);
  }
  if (flags.from.size() > 1) {
    return (void)ctx.FailUsage("--from takes one directory, or `postgres [DSN]`",
                               "e.g. --from ~/.vox/cache/populi or --from postgres");
  }
  RunLegacyMigrate(ctx, flags);
}

}  // namespace

void AddStoreVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  static StoreFlags flags;
  auto* store = populi.add_subcommand("store", "Check, repair or migrate the node's durable store");
  store->require_subcommand(1);
  auto add_common = [&ctx](CLI::App* verb) {
    verb->add_option("--data-dir", flags.data_dir,
                     "Data directory holding the store (default: [mesh.store] path, else "
                     "$VOX_HOME/populi)");
    verb->add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  };

  auto* check = store->add_subcommand(
      "check", "Verify integrity, schema version and invariants; non-zero exit on a violation");
  check->footer(
      "Example: vox populi store check --json\n"
      "With [mesh.store] backend = \"postgres\" and no --data-dir it checks that PostgreSQL "
      "store.");
  add_common(check);
  check->callback([&ctx] { RunCheck(ctx, flags); });

  auto* repair = store->add_subcommand(
      "repair", "Back up the store, fix what can be fixed without losing rows, rebuild the file");
  repair->footer("Example: vox populi store repair --data-dir ~/.vox/populi");
  add_common(repair);
  repair->callback([&ctx] { RunRepair(ctx, flags); });

  auto* migrate = store->add_subcommand(
      "migrate",
      "Copy the store to or from PostgreSQL, or import the earlier version's JSON files");
  migrate->footer(
      "Examples:\n"
      "  vox populi store migrate --to postgres 'host=db.internal dbname=populi user=populi'\n"
      "  vox populi store migrate --from postgres --data-dir /srv/populi-copy\n"
      "  vox populi store migrate --from ~/.vox/cache/populi\n"
      "Without DSN, [mesh.store] dsn (user config or VOX_MESH_STORE_DSN) is used; a password "
      "in it is never printed. Stop every serve on both stores first.");
  migrate
      ->add_option("--from", flags.from,
                   "DIR holding the legacy JSON files, or `postgres [DSN]`: copy that "
                   "PostgreSQL store into the SQLite store in the data directory")
      ->expected(1, 2);
  migrate
      ->add_option("--to", flags.to,
                   "`postgres [DSN]`: copy the SQLite store in the data directory into PostgreSQL")
      ->expected(1, 2);
  migrate->add_option("--schema", flags.schema,
                      "PostgreSQL schema to copy to or from (default: [mesh.store] schema)");
  migrate->add_flag("--force", flags.force,
                    "Replace what the destination store holds (default: refuse one that is not "
                    "empty)");
  add_common(migrate);
  // Arguments nothing takes are refused here, unquoted: one may be a misplaced DSN.
  migrate->allow_extras();
  migrate->callback([&ctx, migrate] {
    if (migrate->remaining_size() > 0) {
      return (void)ctx.FailUsage(
          std::to_string(migrate->remaining_size()) +
              " argument(s) that no flag takes (not shown: a connection string may hold a "
              "password)",
          "put the DSN right after `postgres`: --to postgres DSN, --from postgres DSN");
    }
    RunMigrate(ctx, flags);
  });
}

}  // namespace populi::cli
