// `vox populi join URL`: run this node's agent against a remote control plane (MESH-105).
//
// The token comes from --token, the configuration (worker token, mesh token, admin token), the
// token an earlier bootstrap exchange saved, or — with --bootstrap-token / mesh.bootstrap.token —
// a one-time exchange whose mesh token is saved (0600) for later runs. Runs until SIGTERM/SIGINT,
// then leaves the mesh so the control plane records node.left at once.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "cli/agent_setup.h"
#include "cli/logging.h"
#include "cli/verb.h"
#include "client/control_plane_api.h"
#include "mesh/replies.h"

namespace populi::cli {
namespace {

struct JoinFlags {
  std::string url;
  std::string token;
  std::string bootstrap_token;
  std::string data_dir;
};

Status SaveToken(const std::string& path, const std::string& token) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("cannot write " + tmp, "check the data directory's permissions");
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Unavailable("cannot write " + path, "check free space in the data directory");
  }
  return Status::Ok();
}

Result<std::string> ExchangeBootstrap(const std::string& url, const std::string& bootstrap,
                                      const std::string& ca_file) {
  client::ControlPlaneApi api(url);
  if (!ca_file.empty()) api.http().set_tls_ca_file(ca_file);
  POPULI_ASSIGN_OR_RETURN(mesh::BootstrapReply reply, api.BootstrapExchange({bootstrap}));
  if (reply.mesh_token.empty()) {
    return Internal("the bootstrap answer carried no mesh token",
                    "check that the control plane has mesh.token set");
  }
  return reply.mesh_token;
}

int Join(Context& ctx, const JoinFlags& flags) {
  sigset_t stop_signals = BlockStopSignals();

  std::map<std::string, std::string> config_flags;
  if (!flags.data_dir.empty()) config_flags["mesh.store.path"] = flags.data_dir;
  auto cfg = LoadConfig(ctx, config_flags);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  if (!cfg->GetBool("mesh.enabled")) {
    return ctx.Fail(
        FailedPrecondition("mesh.enabled is false in this workspace: no node agent runs",
                           "set [mesh] enabled = true (or VOX_MESH_ENABLED=true) to join"));
  }
  const std::string data_dir = cfg->data_dir();
  if (Status s = EnsureDataDir(data_dir); !s.ok()) return ctx.Fail(s);
  const std::string ca = cfg->GetString("mesh.tls.ca_path");

  std::string token = flags.token.empty() ? NodeToken(*cfg) : flags.token;
  const std::string bootstrap = flags.bootstrap_token.empty()
                                    ? cfg->GetString("mesh.bootstrap.token")
                                    : flags.bootstrap_token;
  if (token.empty() && !bootstrap.empty()) {
    auto exchanged = ExchangeBootstrap(flags.url, bootstrap, ca);
    if (!exchanged.ok()) return ctx.Fail(exchanged.status());
    token = *exchanged;
    if (Status s = SaveToken(SavedTokenPath(*cfg), token); !s.ok()) return ctx.Fail(s);
  }
  if (token.empty()) {
    // Only an open control plane (no credentials configured: a single-user test mesh) accepts
    // this; any other answers 401 and the agent keeps logging it.
    ctx.Warn("no token configured; joining " + flags.url + " without credentials",
             "pass --token, set VOX_MESH_TOKEN, or use --bootstrap-token from the mesh owner");
  }

  auto made = MakeProcessLogger(*cfg, "vox-agent");
  if (!made.ok()) return ctx.Fail(made.status());
  std::shared_ptr<spdlog::logger> logger = *made;
  spdlog::set_default_logger(logger);
  auto started = StartAgent(*cfg, flags.url, token, ca, logger);
  if (!started.ok()) return ctx.Fail(started.status());
  {
    std::ofstream url_file(ControlUrlFile(*cfg), std::ios::trunc);
    url_file << flags.url << "\n";
  }
  *ctx.out << "node " << started->agent->node_id() << " running against " << flags.url << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  logger->info("signal {}: leaving the mesh", signal_number);
  started->Stop();
  return kExitOk;
}

}  // namespace

void AddJoinVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<JoinFlags>();
  auto* join = populi.add_subcommand(
      "join", "Run this node's agent against a remote control plane until SIGTERM");
  join->footer(
      "The node id and Ed25519 key are created on first run under the data directory and kept.\n"
      "Example: vox populi join http://10.0.0.5:7070 --bootstrap-token ONE-TIME-TOKEN");
  join->add_option("url", flags->url,
                   "Control plane URL, http(s)://HOST:PORT; replicas on one store: several, "
                   "comma-separated")
      ->required();
  join->add_option("--token", flags->token, "Token to present (default: from the configuration)");
  join->add_option("--bootstrap-token", flags->bootstrap_token,
                   "One-time token to exchange for the mesh token (saved for later runs)");
  join->add_option("--data-dir", flags->data_dir,
                   "Data directory for the node identity (default [mesh.store] path)");
  join->callback([&ctx, flags] { ctx.exit_code = Join(ctx, *flags); });
}

}  // namespace populi::cli
