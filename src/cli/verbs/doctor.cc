// `vox doctor` (also `vox populi doctor`): checks this node's configuration, store (the local
// SQLite file, or the PostgreSQL database: doctor_database.cc), control plane, clock, hardware
// probes and advertised capacity, each as ok / warn / fail with a message and a hint. It reports;
// it never stops at the first problem. Exit 0 when nothing failed, 1 when something did (an
// unreachable control plane is a failed check, not exit 3).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <ostream>

#include "agent/keyring.h"
#include "cli/verb.h"
#include "cli/verbs/doctor_report.h"
#include "cli/verbs/mesh_view.h"
#include "client/control_plane_api.h"
#include "config/config.h"
#include "probe/capacity.h"
#include "probe/config_options.h"
#include "probe/pipeline.h"
#include "probe/probes.h"
#include "store/legacy_import.h"
#include "store/sqlite.h"
#include "util/clock.h"

namespace populi::cli {

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr int64_t kClockWarnMs = 2'000;
constexpr int64_t kClockFailMs = 30'000;
constexpr int kRequestTimeoutMs = 5'000;

struct DoctorFlags {
  std::string fixture;  // mock probe fixture instead of the configured probes
};

using doctor::CheckDatabase;
using doctor::Level;
using doctor::OriginText;
using doctor::Report;

const char* LevelName(Level level) {
  switch (level) {
    case Level::kOk:
      return "ok";
    case Level::kWarn:
      return "warn";
    case Level::kFail:
      return "fail";
  }
  return "fail";
}

std::string SizeText(uint64_t bytes) {
  char buf[32];
  if (bytes < 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  }
  return buf;
}

// ---- config ----

// The loaded configuration, or every key at its default when it cannot be loaded (the other
// sections still run).
config::Config CheckConfig(Report& report) {
  auto cfg = config::Load();
  if (!cfg.ok()) {
    report.Add("config", "load", Level::kFail, cfg.status().message(),
               cfg.status().hint().empty() ? "run `vox config check` for every problem"
                                           : cfg.status().hint());
    return config::Config();
  }
  for (const config::Diagnostic& d : cfg->diagnostics()) {
    report.Add("config", d.error ? "error" : "warning", d.error ? Level::kFail : Level::kWarn,
               d.ToString(), d.hint);
  }
  size_t set = 0;
  for (const config::KeySpec& spec : config::Schema()) {
    const config::Origin& origin = cfg->OriginOf(spec.key);
    if (origin.source == config::Source::kDefault) continue;
    ++set;
    std::string value =
        spec.secret ? (cfg->IsSet(spec.key) ? "********" : "(empty)") : cfg->Render(spec.key);
    report.Add("config", std::string(spec.key), Level::kOk,
               value + " (from " + OriginText(origin) + ")");
  }
  if (set == 0) {
    report.Add("config", "defaults", Level::kOk,
               "every [mesh] key has its default value (no Vox.toml, user config or VOX_MESH_* "
               "variable sets one)");
  }
  return std::move(*cfg);
}

// ---- store ----

void CheckStore(const config::Config& cfg, Report& report) {
  if (cfg.GetString("mesh.store.backend") == "postgres") return CheckDatabase(cfg, report);
  const std::string dir = cfg.data_dir();
  auto inspected = store::InspectSqliteStore(dir);
  if (!inspected.ok()) {
    report.Add("store", "store", Level::kFail, inspected.status().message(),
               inspected.status().hint());
    return;
  }
  const store::SqliteInspection& in = *inspected;
  if (!in.exists) {
    if (Status legacy = store::RefuseLegacyOnlyDir(dir); !legacy.ok()) {
      report.Add("store", "store", Level::kWarn, legacy.message(), legacy.hint());
      return;
    }
    report.Add("store", "store", Level::kOk,
               "no store in " + dir + " (no control plane has run with this data directory)");
    return;
  }
  const std::string where = SizeText(in.size_bytes) + " at " + in.database_path;
  if (!in.check) {
    std::string message = "in use by the running control plane (pid " +
                          (in.holder_pid > 0 ? std::to_string(in.holder_pid) : "unknown") + ")";
    if (in.schema_version > 0) message += "; schema version " + std::to_string(in.schema_version);
    report.Add("store", "store", Level::kOk, message + ", " + where);
    return;
  }
  if (in.check->ok) {
    report.Add("store", "store", Level::kOk,
               "consistent, schema version " + std::to_string(in.schema_version) + ", " + where);
    return;
  }
  std::string failed;
  for (const auto& item : in.check->items) {
    if (!item.ok) failed += (failed.empty() ? "" : "; ") + item.name + ": " + item.detail;
  }
  report.Add("store", "store", Level::kFail, in.database_path + " has violations: " + failed,
             "run `vox populi store repair` (it backs up first)");
}

// ---- keys ----

// The encryption key's age against mesh.policy.max_key_age, and the pairings' state. Nothing is
// created: a node that never made a key has nothing to flag.
void CheckKeys(const config::Config& cfg, Report& report) {
  const std::string dir = cfg.data_dir();
  std::error_code ec;
  if (!std::filesystem::exists(agent::EncryptionKeysPath(dir), ec)) {
    report.Add("keys", "encryption key", Level::kOk,
               "none yet (made when the node first joins or pairs)");
    return;
  }
  const int64_t now = SystemClock::Instance().NowMs();
  auto keys = agent::LoadOrCreateEncryptionKeys(dir, now);
  if (!keys.ok()) {
    report.Add("keys", "encryption key", Level::kFail, keys.status().message(),
               keys.status().hint());
    return;
  }
  const int64_t age_ms = now - keys->created_ms;
  const int64_t max_ms = cfg.GetDurationSecs("mesh.policy.max_key_age") * 1000;
  crypto::WipeSecret(keys->current);
  if (keys->previous) crypto::WipeSecret(*keys->previous);
  const std::string age = std::to_string(age_ms / 86'400'000) + " days old";
  json::object extra{{"created_ms", keys->created_ms}, {"max_age_ms", max_ms}};
  if (age_ms > max_ms) {
    report.Add("keys", "encryption key", Level::kWarn,
               "the encryption key is " + age + ", older than mesh.policy.max_key_age",
               "rotate it: vox populi pair --rotate (paired nodes adopt the new key)", extra);
  } else {
    report.Add("keys", "encryption key", Level::kOk, age, {}, extra);
  }
  auto declared = agent::ParseDeclaredPeers(cfg.GetList("mesh.peers.declared"));
  if (!declared.ok()) {
    report.Add("keys", "declared peers", Level::kFail, declared.status().message(),
               declared.status().hint());
    return;
  }
  auto peers = agent::LoadPeers(dir, *declared);
  if (!peers.ok()) {
    report.Add("keys", "pairings", Level::kFail, peers.status().message(), peers.status().hint());
  } else {
    report.Add("keys", "pairings", Level::kOk,
               std::to_string(peers->size()) + " paired node" + (peers->size() == 1 ? "" : "s") +
                   (declared->empty() ? ""
                                      : " (" + std::to_string(declared->size()) +
                                            " declared in mesh.peers.declared)"));
  }
}

// ---- control plane and clock ----

std::string TokenHint(const config::Config& cfg) {
  if (!cfg.IsSet("mesh.token")) {
    return "no token is configured: set mesh.token in " + cfg.user_config_path() +
           " (mode 0600) or VOX_MESH_TOKEN to a token the control plane accepts";
  }
  return "mesh.token (from " + OriginText(cfg.OriginOf("mesh.token")) +
         ") is not accepted: copy the token from the control plane machine's "
         "$VOX_HOME/config.toml";
}

// GET /health, asked without a token: /health is open, but a presented token is still judged,
// so a bad token shows up in the auth check rather than as an unreachable control plane. False
// when the control plane did not answer it.
bool CheckReachable(const config::Config& cfg, const std::string& url, Report& report) {
  client::ControlPlaneApi open_api = ControlClient(cfg, url, /*with_token=*/false);
  auto health = open_api.Health({.timeout_ms = kRequestTimeoutMs});
  if (!health.ok()) {
    const Status s = ControlPlaneStatus(health.status());
    const bool unreachable = s.code() == Code::kUnavailable || s.code() == Code::kTimeout;
    report.Add("control", "reachable", Level::kFail,
               unreachable ? s.message() : "GET " + url + "/health failed: " + s.message(),
               s.hint());
    return false;
  }
  const std::string& version = health->version;
  report.Add("control", "reachable", Level::kOk,
             url + " answers /health" + (version.empty() ? "" : " (version " + version + ")"));
  return true;
}

// The control plane's clock against this machine's, read halfway through a request that took
// from `before` to `after` (this machine's clock).
void CheckClock(int64_t server_ms, int64_t before, int64_t after, Report& report) {
  const int64_t offset = server_ms - (before + (after - before) / 2);
  const int64_t magnitude = offset < 0 ? -offset : offset;
  const std::string text = std::string(offset < 0 ? "-" : "+") + std::to_string(magnitude) +
                           " ms (control plane minus this machine, +/- " +
                           std::to_string((after - before) / 2 + 1) + " ms)";
  const char* sync_hint = "synchronise the clocks (NTP, e.g. chrony or systemd-timesyncd)";
  json::object extra{{"offset_ms", offset}};
  if (magnitude > kClockFailMs) {
    report.Add("clock", "offset", Level::kFail, text + ": leases and liveness will misbehave",
               sync_hint, std::move(extra));
  } else if (magnitude > kClockWarnMs) {
    report.Add("clock", "offset", Level::kWarn, text, sync_hint, std::move(extra));
  } else {
    report.Add("clock", "offset", Level::kOk, text, {}, std::move(extra));
  }
}

void CheckControlPlane(const Context& ctx, const config::Config& cfg, Report& report) {
  auto url = ResolveControlUrl(ctx, cfg);
  if (!url.ok()) {
    report.Add("control", "reachable", Level::kFail, url.status().message(), url.status().hint());
    return;
  }
  if (!CheckReachable(cfg, *url, report)) return;

  client::ControlPlaneApi api = ControlClient(cfg, *url);
  const Clock& clock = SystemClock::Instance();
  const int64_t before = clock.NowMs();
  auto nodes = api.Nodes({.timeout_ms = kRequestTimeoutMs});
  const int64_t after = clock.NowMs();
  if (!nodes.ok()) {
    const Status s = ControlPlaneStatus(nodes.status());
    if (s.code() == Code::kUnauthenticated || s.code() == Code::kPermissionDenied) {
      // The same refusals the server answers 401 and 403 (docs/api.md).
      const bool refused = s.code() == Code::kUnauthenticated;
      report.Add("control", "auth", Level::kFail,
                 std::string(refused ? "the control plane refused this node's token (HTTP 401: "
                                     : "this node's token may not list nodes (HTTP 403: ") +
                     s.message() + ")",
                 TokenHint(cfg));
    } else if (s.code() == Code::kUnavailable || s.code() == Code::kTimeout) {
      report.Add("control", "auth", Level::kFail, s.message(), s.hint());
    } else {
      report.Add("control", "auth", Level::kFail, "GET /v1/populi/nodes: " + s.message(), s.hint());
    }
    return;
  }
  const size_t count = nodes->nodes.size();
  report.Add(
      "control", "auth", Level::kOk,
      "token accepted (" + std::to_string(count) + " node" + (count == 1 ? "" : "s") + " listed)");
  CheckClock(nodes->server_time_ms, before, after, report);
}

// ---- probes and capacity ----

void CheckHardware(const config::Config& cfg, const DoctorFlags& flags, Report& report) {
  probe::ProbeOptions options = probe::ProbeOptionsFromConfig(cfg);
  if (!flags.fixture.empty()) {
    options.mock_fixture = flags.fixture;
    options.order = {"mock"};
  }
  if (Status s = probe::ValidateProbeOptions(options); !s.ok()) {
    report.Add("probes", "options", Level::kFail, s.message(), s.hint());
    return;
  }
  auto probes = probe::MakeProbes(options);
  if (!probes.ok()) {
    report.Add("probes", "options", Level::kFail, probes.status().message(),
               probes.status().hint());
    return;
  }
  probe::ProbePipeline pipeline(std::move(*probes), SystemClock::Instance(), nullptr);
  const probe::ProbeReport hw = pipeline.Run();
  for (const auto& a : hw.attempts) {
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.2f ms", a.duration_ms);
    json::object extra{{"outcome", probe::ToString(a.outcome)}, {"duration_ms", a.duration_ms}};
    switch (a.outcome) {
      case probe::ProbeOutcome::kFound: {
        std::string what = a.gpus_found > 0 ? std::to_string(a.gpus_found) + " GPU(s)" : "CPU";
        report.Add("probes", a.probe, Level::kOk, "found " + what + " in " + ms, {},
                   std::move(extra));
        break;
      }
      case probe::ProbeOutcome::kNoDevice:
      case probe::ProbeOutcome::kNotApplicable:
        report.Add("probes", a.probe, Level::kOk,
                   std::string(probe::ToString(a.outcome)) +
                       (a.detail.empty() ? "" : ": " + a.detail) + " (" + ms + ")",
                   {}, std::move(extra));
        break;
      case probe::ProbeOutcome::kFailed: {
        std::string hint;
        for (const auto& f : hw.failures) {
          if (f.probe == a.probe) hint = f.hint;
        }
        report.Add("probes", a.probe, Level::kFail, "failed in " + std::string(ms) + ": " + a.error,
                   hint, std::move(extra));
        break;
      }
    }
  }

  const probe::AdvertisedHints hints = probe::ReadAdvertisedHints(probe::ProcessEnv());
  const probe::NodeCapacity capacity =
      probe::ComputeCapacity(hw, {}, probe::DonationReserveFromConfig(cfg), hints);
  for (const auto& c : capacity.conflicts) {
    report.Add("capacity", c.flag, Level::kWarn,
               c.message + " (" + c.flag + "=" + c.advertised + ", probed " + c.probed + ")",
               "unset " + c.flag +
                   " or fix the probe (see the probes section); the probed "
                   "hardware is what the mesh uses");
  }
  if (capacity.conflicts.empty()) {
    const bool any = hints.gpu || hints.vulkan || hints.webgpu || hints.npu ||
                     !hints.gpu_model.empty() || hints.gpu_vram_mb;
    report.Add("capacity", "advertised", Level::kOk,
               any ? "the VOX_MESH_ADVERTISE_* / VOX_GPU_* flags agree with the probed hardware"
                   : "no VOX_MESH_ADVERTISE_* / VOX_GPU_* flags set; the probed hardware counts");
  }
}

// ---- output ----

void Print(Context& ctx, const Report& report) {
  if (ctx.global.json) {
    json::array checks;
    for (const auto& c : report.checks()) {
      json::object o{{"section", c.section},
                     {"name", c.name},
                     {"status", LevelName(c.level)},
                     {"message", c.message},
                     {"hint", c.hint}};
      for (const auto& [k, v] : c.extra) o[k] = v;
      checks.push_back(std::move(o));
    }
    *ctx.out << json::serialize(json::object{{"checks", std::move(checks)}, {"ok", report.ok()}})
             << "\n";
    return;
  }
  std::string out, section;
  size_t ok = 0, warn = 0, fail = 0;
  for (const auto& c : report.checks()) {
    if (c.section != section) {
      section = c.section;
      out += (out.empty() ? "" : "\n") + Paint(ctx, Color::kBold, section) + "\n";
    }
    std::string label;
    switch (c.level) {
      case Level::kOk:
        ++ok;
        label = Paint(ctx, Color::kGreen, "ok  ");
        break;
      case Level::kWarn:
        ++warn;
        label = Paint(ctx, Color::kYellow, "warn");
        break;
      case Level::kFail:
        ++fail;
        label = Paint(ctx, Color::kRed, "FAIL");
        break;
    }
    out += "  " + label + "  " + c.name + ": " + c.message + "\n";
    if (!c.hint.empty()) out += "        hint: " + c.hint + "\n";
  }
  out += "\n" + std::to_string(report.checks().size()) + " checks: " + std::to_string(ok) +
         " ok, " + std::to_string(warn) + " warning" + (warn == 1 ? "" : "s") + ", " +
         std::to_string(fail) + " failed\n";
  *ctx.out << out;
}

int RunDoctor(Context& ctx, const DoctorFlags& flags) {
  Report report;
  const config::Config cfg = CheckConfig(report);
  CheckStore(cfg, report);
  CheckKeys(cfg, report);
  CheckControlPlane(ctx, cfg, report);
  CheckHardware(cfg, flags, report);
  Print(ctx, report);
  return ctx.exit_code = report.ok() ? kExitOk : kExitFailure;
}

void AddDoctorVerb(CLI::App& parent, Context& ctx, std::shared_ptr<DoctorFlags> flags,
                   const char* example) {
  auto* verb = parent.add_subcommand(
      "doctor", "Check config, local store, control plane, clock, probes and advertised flags");
  verb->footer(example);
  AddClientOptions(*verb, ctx);
  verb->add_flag("--no-color", ctx.global.no_color, "Never use colour (NO_COLOR is honoured too)");
  verb->add_option("--fixture", flags->fixture,
                   "Probe with the mock probe and this JSON fixture (docs/probes.md)");
  verb->callback([flags, &ctx] { RunDoctor(ctx, *flags); });
}

}  // namespace

void AddDoctorVerbs(CLI::App& root, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<DoctorFlags>();
  AddDoctorVerb(root, ctx, flags, "Example: vox doctor --json");
  AddDoctorVerb(populi, ctx, flags, "Example: vox populi doctor");
}

}  // namespace populi::cli
