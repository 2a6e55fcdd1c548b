// `vox doctor`'s store section for [mesh.store] backend = "postgres": a read-only look at the
// server (store::InspectPostgresStore). Messages and hints name the server by host and port and
// the DSN only redacted, never its password.
#include <string>

#include "cli/verbs/doctor_report.h"
#include "store/postgres.h"

namespace populi::cli::doctor {
namespace {

// The version the PostgreSQL store is tested with (docs/store.md); older servers get a warning.
constexpr int kTestedServerVersionNum = 150000;
constexpr int kDoctorConnectTimeoutSecs = 5;

std::string LagText(int64_t ms) {
  if (ms < 10'000) return std::to_string(ms) + " ms";
  return std::to_string(ms / 1000) + " s";
}

void CheckServerVersion(const store::PostgresInspection& in, Report& report) {
  if (in.server_version_num < kTestedServerVersionNum) {
    report.Add("store", "server version", Level::kWarn,
               "PostgreSQL " + in.server_version +
                   " is older than 15, the version the store is "
                   "tested with",
               "upgrade the server to PostgreSQL 15 or newer");
    return;
  }
  report.Add("store", "server version", Level::kOk, "PostgreSQL " + in.server_version);
}

void CheckSchemaVersion(const config::Config& cfg, const store::PostgresInspection& in,
                        Report& report) {
  const std::string schema = "schema " + cfg.GetString("mesh.store.schema");
  const std::string binary = std::to_string(in.binary_schema_version);
  if (in.schema_version == 0) {
    report.Add(
        "store", "schema version", Level::kOk,
        schema + " holds no store yet: `vox populi serve` creates it (version " + binary + ")");
  } else if (in.schema_version < in.binary_schema_version) {
    report.Add("store", "schema version", Level::kOk,
               schema + " is at version " + std::to_string(in.schema_version) +
                   ", older than this vox's " + binary + ": serve will migrate it");
  } else if (in.schema_version > in.binary_schema_version) {
    report.Add("store", "schema version", Level::kFail,
               schema + " is at version " + std::to_string(in.schema_version) +
                   ", newer than this vox's " + binary + ": serve refuses it",
               "upgrade vox on this node to the version that migrated the schema (the one the "
               "other replicas run)");
  } else {
    report.Add("store", "schema version", Level::kOk,
               schema + " is at version " + binary + ", as this vox expects");
  }
}

// A standby (pg_is_in_recovery()): how far its replay is behind, against the configured limit.
void CheckReplication(const config::Config& cfg, const store::PostgresInspection& in,
                      Report& report) {
  if (!in.in_recovery) {
    report.Add("store", "replication", Level::kOk, "primary (not in recovery)");
    return;
  }
  const char* standby_hint =
      "a standby is read-only and serve writes: point mesh.store.dsn at the primary, or list "
      "every host with target_session_attrs=read-write";
  const int64_t limit_ms = cfg.GetDurationSecs("mesh.store.standby_lag_warn") * 1000;
  boost::json::object extra{{"limit_ms", limit_ms}};
  if (!in.replay_lag_ms) {
    report.Add("store", "replication", Level::kWarn, "standby that has replayed no transaction yet",
               standby_hint, std::move(extra));
    return;
  }
  const int64_t lag = *in.replay_lag_ms;
  extra["lag_ms"] = lag;
  if (in.replay_caught_up) {
    report.Add(
        "store", "replication", Level::kOk,
        "standby, caught up (its last replayed transaction committed " + LagText(lag) + " ago)",
        standby_hint, std::move(extra));
  } else if (lag > limit_ms) {
    report.Add("store", "replication", Level::kWarn,
               "standby, " + LagText(lag) +
                   " behind the primary (over mesh.store.standby_lag_warn, " + LagText(limit_ms) +
                   ")",
               "check the standby's replication connection and its disk and CPU; " +
                   std::string(standby_hint),
               std::move(extra));
  } else {
    report.Add("store", "replication", Level::kOk,
               "standby, " + LagText(lag) + " behind the primary", standby_hint, std::move(extra));
  }
}

}  // namespace

void CheckDatabase(const config::Config& cfg, Report& report) {
  store::PostgresOptions options;
  options.dsn = cfg.GetString("mesh.store.dsn");
  options.schema = cfg.GetString("mesh.store.schema");
  if (options.dsn.empty()) {
    report.Add("store", "reachable", Level::kFail,
               "[mesh.store] backend = \"postgres\" but mesh.store.dsn is empty",
               "set mesh.store.dsn in the user config or VOX_MESH_STORE_DSN (never in Vox.toml)");
    return;
  }
  const std::string server = store::PostgresServerAddress(options.dsn);
  const std::string source = OriginText(cfg.OriginOf("mesh.store.dsn"));
  auto in = store::InspectPostgresStore(options, kDoctorConnectTimeoutSecs);
  if (!in.ok()) {
    const std::string hint =
        server.empty()
            ? "fix mesh.store.dsn (from " + source +
                  "): libpq key=value pairs or a "
                  "postgresql:// URL"
            : "check that PostgreSQL at " + server +
                  " is up and accepts connections from this machine, and mesh.store.dsn (from " +
                  source + ")";
    report.Add("store", "reachable", Level::kFail, in.status().message(), hint);
    return;
  }
  report.Add("store", "reachable", Level::kOk,
             "PostgreSQL at " + server + " answers (" + in->location + ")");
  CheckServerVersion(*in, report);
  CheckSchemaVersion(cfg, *in, report);
  CheckReplication(cfg, *in, report);
}

}  // namespace populi::cli::doctor
