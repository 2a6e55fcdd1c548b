// `vox populi store check | repair | migrate`: operator verbs on the local durable store. They
// open the store directory directly (taking its lock), so they refuse to run beside a serve that
// holds it.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <ostream>

#include "cli/verb.h"
#include "config/config.h"
#include "store/legacy_import.h"
#include "store/sqlite.h"

namespace populi::cli {
namespace {

namespace json = boost::json;

struct StoreFlags {
  std::string data_dir;  // empty: [mesh.store] path from the configuration
  std::string from_dir;  // migrate only
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> ResolveDataDir(const StoreFlags& flags) {
  if (!flags.data_dir.empty()) return flags.data_dir;
  POPULI_ASSIGN_OR_RETURN(config::Config cfg, config::Load());
  if (cfg.GetString("mesh.store.backend") == "postgres") {
    return FailedPrecondition(
        "the store verbs work on the SQLite store; this configuration keeps it in PostgreSQL",
        "check a PostgreSQL store with its own tools (pg_dump, amcheck), or pass --data-dir DIR "
        "for a SQLite store directory");
  }
  return cfg.data_dir();
}

Status RequireExistingStore(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(store::SqliteDatabasePath(dir), ec)) return Status::Ok();
  POPULI_RETURN_IF_ERROR(store::RefuseLegacyOnlyDir(dir));
  return NotFound("no store in " + dir,
                  "pass --data-dir, or start `vox populi serve` once to create it");
}

json::object CheckJson(const store::CheckReport& report) {
  json::object o;
  o["ok"] = report.ok;
  o["schema_version"] = report.schema_version;
  json::array items;
  for (const auto& item : report.items) {
    items.push_back(json::object{{"name", item.name}, {"ok", item.ok}, {"detail", item.detail}});
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

void RunCheck(Context& ctx, const StoreFlags& flags) {
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
  auto report = store::RepairSqliteStore(options, NowMs());
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

void RunMigrate(Context& ctx, const StoreFlags& flags) {
  auto dir = ResolveDataDir(flags);
  if (!dir.ok()) return (void)ctx.Fail(dir.status());
  store::SqliteOptions options;
  options.directory = *dir;
  options.reader_pool_size = 1;
  auto opened = store::OpenSqliteStore(options);
  if (!opened.ok()) return (void)ctx.Fail(opened.status());
  auto report = store::ImportLegacyJson(**opened, flags.from_dir, NowMs());
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
    *ctx.out << "nothing to migrate in " << flags.from_dir << " (no " << store::kLegacyA2aFile
             << " or " << store::kLegacyLeaseFile << ")\n";
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

}  // namespace

void AddStoreVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  static StoreFlags flags;
  auto* store = populi.add_subcommand("store", "Check, repair or migrate the local durable store");
  store->require_subcommand(1);
  auto add_common = [&ctx](CLI::App* verb) {
    verb->add_option("--data-dir", flags.data_dir,
                     "Data directory holding the store (default: [mesh.store] path, else "
                     "$VOX_HOME/populi)");
    verb->add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  };

  auto* check = store->add_subcommand(
      "check", "Verify integrity, schema version and invariants; non-zero exit on a violation");
  check->footer("Example: vox populi store check --json");
  add_common(check);
  check->callback([&ctx] { RunCheck(ctx, flags); });

  auto* repair = store->add_subcommand(
      "repair", "Back up the store, fix what can be fixed without losing rows, rebuild the file");
  repair->footer("Example: vox populi store repair --data-dir ~/.vox/populi");
  add_common(repair);
  repair->callback([&ctx] { RunRepair(ctx, flags); });

  auto* migrate = store->add_subcommand(
      "migrate", "Import the earlier version's a2a-store.json and exec-lease-store.json");
  migrate->footer("Example: vox populi store migrate --from ~/.vox/cache/populi");
  migrate->add_option("--from", flags.from_dir, "Directory holding the legacy JSON files")
      ->required()
      ->check(CLI::ExistingDirectory);
  add_common(migrate);
  migrate->callback([&ctx] { RunMigrate(ctx, flags); });
}

}  // namespace populi::cli
