// `vox populi serve`: the control plane (HTTP API + sweeper) on the embedded SQLite store (or a
// PostgreSQL database, [mesh.store] backend = "postgres").
//
// Start-up order matters: SIGTERM/SIGINT are blocked before any thread exists (so only sigwait
// sees them), the store is opened before the server accepts, and the one stdout line
// `listening on http://HOST:PORT` is printed (and <data dir>/control-url written) only once the
// server accepts connections. Logs go to stderr.
#include <signal.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>

#include "cli/agent_setup.h"
#include "cli/build_info.h"
#include "cli/logging.h"
#include "cli/tracing_setup.h"
#include "cli/verb.h"
#include "config/config.h"
#include "control/control_plane.h"
#include "control/http/auth.h"
#include "control/http/server.h"
#include "control/jti_store.h"
#include "store/legacy_import.h"
#include "store/postgres.h"
#include "store/sqlite.h"
#include "util/clock.h"
#include "util/random.h"

namespace populi::cli {
namespace {

struct ServeFlags {
  std::string bind;
  std::string data_dir;
  bool no_worker = false;
};

control::ControlOptions ControlOptionsFrom(const config::Config& cfg) {
  control::ControlOptions o;
  o.version = GetBuildInfo().version;
  o.wire_version = GetBuildInfo().wire_version;
  o.scope_id = cfg.GetString("mesh.scope_id");
  o.heartbeat_ms = cfg.GetInt("mesh.control.heartbeat_secs") * 1000;
  o.suspect_after = static_cast<int>(cfg.GetInt("mesh.control.suspect_after"));
  o.down_after = static_cast<int>(cfg.GetInt("mesh.control.down_after"));
  o.connection_drop_grace_ms = cfg.GetInt("mesh.control.connection_drop_grace_ms");
  o.exec_lease_ttl_ms = cfg.GetInt("mesh.control.exec_lease_ttl_secs") * 1000;
  o.sweeper_role_ttl_ms = cfg.GetInt("mesh.control.sweeper_role_ttl_ms");
  o.a2a_claim_ttl_ms = cfg.GetInt("mesh.control.a2a_claim_ttl_secs") * 1000;
  o.a2a_max_deliveries = static_cast<int>(cfg.GetInt("mesh.control.a2a_max_deliveries"));
  o.inbox_cap = cfg.GetInt("mesh.control.inbox_cap");
  o.long_poll_max_ms = cfg.GetInt("mesh.control.long_poll_max_ms");
  o.retention_ms = cfg.GetDurationSecs("mesh.store.retention") * 1000;
  o.bootstrap_token = cfg.GetString("mesh.bootstrap.token");
  o.bootstrap_expires_ms = cfg.GetInt("mesh.bootstrap.expires_unix_ms");
  o.mesh_token = cfg.GetString("mesh.token");
  return o;
}

http::ServerOptions ServerOptionsFrom(const config::Config& cfg, const ServeFlags& flags) {
  http::ServerOptions o;
  o.bind = flags.bind.empty() ? cfg.GetString("mesh.control.bind") : flags.bind;
  o.default_max_body_bytes = static_cast<size_t>(cfg.GetBytes("mesh.control.http.max_body_bytes"));
  o.header_timeout_ms = static_cast<int>(cfg.GetInt("mesh.control.http.header_timeout_ms"));
  o.body_timeout_ms = static_cast<int>(cfg.GetInt("mesh.control.http.body_timeout_ms"));
  o.idle_timeout_ms = static_cast<int>(cfg.GetInt("mesh.control.http.idle_timeout_ms"));
  o.max_connections = static_cast<int>(cfg.GetInt("mesh.control.http.max_connections"));
  o.handler_threads = static_cast<int>(cfg.GetInt("mesh.control.http.handler_threads"));
  o.rate_per_sec = static_cast<double>(cfg.GetInt("mesh.control.http.rate_per_sec"));
  o.rate_burst = static_cast<double>(cfg.GetInt("mesh.control.http.rate_burst"));
  o.tls_cert_path = cfg.GetString("mesh.tls.cert_path");
  o.tls_key_path = cfg.GetString("mesh.tls.key_path");
  o.tls_min_version = cfg.GetString("mesh.tls.min_version");
  return o;
}

// The local worker of a control plane that requires credentials gets a credential of its own,
// minted per process and never written anywhere (`local_worker_token`): a worker role, not the
// admin token this machine's CLI holds. An open control plane (no credential configured) stays
// open.
Result<std::unique_ptr<http::Authenticator>> AuthenticatorFrom(const config::Config& cfg,
                                                               http::JtiStore* jti_store,
                                                               std::string* local_worker_token) {
  http::AuthConfig auth;
  const std::pair<const char*, http::Role> keys[] = {
      {"mesh.token", http::Role::kMesh},
      {"mesh.auth.admin_token", http::Role::kAdmin},
      {"mesh.auth.worker_token", http::Role::kWorker},
      {"mesh.auth.submitter_token", http::Role::kSubmitter},
      {"mesh.auth.read_only_token", http::Role::kReadOnly},
  };
  for (const auto& [key, role] : keys) {
    if (!cfg.IsSet(key)) continue;
    // `vox populi init` points mesh.token (what this machine's CLI presents) at the admin token:
    // that one secret is the admin credential, not a second role. Any other shared secret is
    // still refused by the authenticator.
    if (role == http::Role::kMesh && cfg.IsSet("mesh.auth.admin_token") &&
        cfg.GetString(key) == cfg.GetString("mesh.auth.admin_token")) {
      continue;
    }
    auth.tokens.push_back({std::string(http::ToString(role)), role, cfg.GetString(key)});
  }
  // A read-only credential for the metrics scraper, confined to GET /metrics (docs/metrics.md).
  if (cfg.IsSet("mesh.observability.metrics_token")) {
    auth.tokens.push_back({std::string(http::kMetricsTokenLabel), http::Role::kReadOnly,
                           cfg.GetString("mesh.observability.metrics_token")});
  }
  auth.jwt_secret = cfg.GetString("mesh.auth.jwt_hmac_secret");
  if (!auth.jwt_secret.empty()) auth.jti_store = jti_store;
  if (!auth.tokens.empty() || !auth.jwt_secret.empty()) {
    *local_worker_token = RandomHex(32);
    auth.tokens.push_back({"local-worker", http::Role::kWorker, *local_worker_token});
  }
  return http::Authenticator::Create(std::move(auth));
}

// Writes `url` to `path` via a temporary file and rename, so readers never see half a URL.
Status WriteUrlFile(const std::string& path, const std::string& url) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << url << "\n";
    if (!out.flush()) return Unavailable("cannot write " + tmp, "check the data directory");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Unavailable("cannot write " + path + ": " + ec.message(), "check permissions");
  return Status::Ok();
}

// The store in `cfg`'s data directory, once the directory exists, holds no legacy-only store and
// the configured backend is one that exists.
Result<std::unique_ptr<store::MeshStore>> OpenStore(Context& ctx, const config::Config& cfg) {
  const std::string data_dir = cfg.data_dir();
  POPULI_RETURN_IF_ERROR(EnsureDataDir(data_dir));
  POPULI_RETURN_IF_ERROR(store::RefuseLegacyOnlyDir(data_dir));
  // The schema admits only the backends that exist; each gets its own opening here.
  if (cfg.GetString("mesh.store.backend") == "postgres") {
    store::PostgresOptions pg_options;
    pg_options.dsn = cfg.GetString("mesh.store.dsn");
    pg_options.schema = cfg.GetString("mesh.store.schema");
    if (pg_options.dsn.empty()) {
      return FailedPrecondition(
          "[mesh.store] backend = \"postgres\" needs a connection string",
          "set mesh.store.dsn in the user config or VOX_MESH_STORE_DSN (never in Vox.toml)");
    }
    if (cfg.GetString("mesh.store.durability") == "buffered") {
      ctx.Warn("store durability 'buffered' does not apply to the postgres backend",
               "it always commits with synchronous_commit = on");
    }
    return store::OpenPostgresStore(pg_options);
  }
  store::SqliteOptions store_options;
  store_options.directory = data_dir;
  if (cfg.GetString("mesh.store.durability") == "buffered") {
    store_options.durability = store::Durability::kBuffered;
    ctx.Warn("store durability is 'buffered': a power loss can lose acknowledged writes",
             "set [mesh.store] durability = \"full\" unless you accept that");
  }
  return store::OpenSqliteStore(store_options);
}

// The node agent a serve runs beside its control plane, unless --no-worker or mesh.enabled says
// otherwise; nothing (with a warning saying why) when it cannot start.
std::optional<AgentHandle> StartLocalWorker(Context& ctx, const config::Config& cfg,
                                            const ServeFlags& flags, const std::string& url,
                                            const std::string& local_worker_token,
                                            const std::shared_ptr<spdlog::logger>& logger) {
  if (flags.no_worker) {
    logger->info("running the control plane only (--no-worker)");
    return std::nullopt;
  }
  if (!cfg.GetBool("mesh.enabled")) {
    logger->info("running the control plane only: mesh.enabled is false in this workspace");
    return std::nullopt;
  }
  const std::string ca = cfg.GetString("mesh.tls.ca_path").empty()
                             ? cfg.GetString("mesh.tls.cert_path")
                             : cfg.GetString("mesh.tls.ca_path");
  auto started = StartAgent(
      cfg, url, local_worker_token.empty() ? NodeToken(cfg) : local_worker_token, ca, logger);
  if (!started.ok()) {
    // The control plane stays useful without its local worker; say why there is none.
    ctx.Warn("local worker not started: " + started.status().message(), started.status().hint());
    return std::nullopt;
  }
  return std::move(*started);
}

int Serve(Context& ctx, const ServeFlags& flags) {
  sigset_t stop_signals = BlockStopSignals();

  std::map<std::string, std::string> config_flags;
  if (!flags.bind.empty()) config_flags["mesh.control.bind"] = flags.bind;
  if (!flags.data_dir.empty()) config_flags["mesh.store.path"] = flags.data_dir;
  auto cfg = LoadConfig(ctx, config_flags);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto store = OpenStore(ctx, *cfg);
  if (!store.ok()) return ctx.Fail(store.status());

  const Clock& clock = SystemClock::Instance();
  control::StoreJtiStore jti_store(**store, clock);
  std::string local_worker_token;
  auto auth = AuthenticatorFrom(*cfg, &jti_store, &local_worker_token);
  if (!auth.ok()) {
    (void)(*store)->Close();
    return ctx.Fail(auth.status());
  }

  // Declared before the plane and the server, so both are gone before the spans' store.
  auto tracing = TracingFrom(*cfg, GetBuildInfo().version);
  if (!tracing.ok()) {
    (void)(*store)->Close();
    return ctx.Fail(tracing.status());
  }

  control::ControlPlane plane(**store, ControlOptionsFrom(*cfg), clock);
  plane.SetSpanStore(tracing->spans.get());
  http::Router router;
  plane.RegisterRoutes(router);
  // Every failed start below stops the plane and closes the store first.
  auto fail_start = [&](const Status& status) {
    plane.Stop();
    (void)(*store)->Close();
    return ctx.Fail(status);
  };

  auto made = MakeProcessLogger(*cfg, "vox-serve");
  if (!made.ok()) return fail_start(made.status());
  std::shared_ptr<spdlog::logger> logger = *made;
  // Library code logs through the default logger; stdout carries only the `listening on` line.
  spdlog::set_default_logger(logger);
  if (cfg->GetString("mesh.store.backend") == "postgres") {
    // The DSN may carry a password: only its redacted form is ever shown.
    logger->info("store: postgres {}", store::RedactPostgresDsn(cfg->GetString("mesh.store.dsn")));
  }
  http::ServerOptions server_options = ServerOptionsFrom(*cfg, flags);
  server_options.on_auth_lockout = [&plane](const std::string& ip) { plane.RecordAuthLockout(ip); };
  server_options.on_long_poll_dropped = [&plane](const std::string& node_id) {
    plane.ConnectionDropped(node_id);
  };
  server_options.spans = tracing->spans.get();
  server_options.on_request_done = [&plane](const http::RequestRecord& r) {
    plane.ObserveRequest(r);
  };
  // The audit log (docs/audit.md): refusals coalesced per source, token use per label and role.
  server_options.on_auth_refused = [&plane](const http::AuthRefusal& r) {
    plane.audit().AuthRefused(r.remote_ip, r.status, r.route, r.token_label);
  };
  server_options.on_authenticated = [&plane](const http::Principal& p) {
    plane.audit().TokenUsed(p.token_label, p.role);
  };
  auto server = http::Server::Start(server_options, router, **auth, logger);
  if (!server.ok()) {
    fail_start(server.status());
    return ctx.exit_code =
               kExitFailure;  // a bind failure is a failed start, not an unreachable peer
  }
  plane.SetNotifier(&(*server)->notifier());
  plane.Start();

  const std::string url = (*server)->url();
  const std::string url_file = cfg->data_dir() + "/control-url";
  if (Status s = WriteUrlFile(url_file, url); !s.ok()) ctx.Warn(s.message(), s.hint());
  *ctx.out << "listening on " << url << std::endl;
  // stdout keeps the one "listening on" line that scripts and tests read; the rest is logged.
  logger->info("dashboard: {}/ui (sign in with a token)", url);
  std::optional<AgentHandle> local_agent =
      StartLocalWorker(ctx, *cfg, flags, url, local_worker_token, logger);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  logger->info("signal {}: stopping", signal_number);
  // The local node leaves first, while the server can still record node.left.
  if (local_agent) local_agent->Stop();

  (*server)->Stop();
  plane.SetNotifier(nullptr);
  plane.Stop();
  Status closed = (*store)->Close();
  std::error_code ec;
  std::filesystem::remove(url_file, ec);
  if (!closed.ok()) return ctx.Fail(closed);
  return kExitOk;
}

}  // namespace

void AddServeVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<ServeFlags>();
  auto* serve = populi.add_subcommand(
      "serve", "Run the control plane (HTTP API, sweeper) on the embedded SQLite store");
  serve->footer(
      "Prints `listening on http://HOST:PORT` once ready and writes the URL to "
      "<data dir>/control-url. Stops on SIGTERM/SIGINT.\n"
      "Example: vox populi serve --bind 127.0.0.1:0");
  serve->add_option("--bind", flags->bind,
                    "HOST:PORT to listen on (default [mesh.control] bind; port 0 = any free)");
  serve->add_option("--data-dir", flags->data_dir,
                    "Data directory for the store and control-url (default [mesh.store] path)");
  serve->add_flag("--no-worker", flags->no_worker,
                  "Run only the control plane, no local worker (the node agent)");
  serve->callback([&ctx, flags] { ctx.exit_code = Serve(ctx, *flags); });
}

}  // namespace populi::cli
