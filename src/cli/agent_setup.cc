#include "cli/agent_setup.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "agent/identity.h"
#include "cli/build_info.h"
#include "models/inventory.h"
#include "probe/config_options.h"
#include "probe/pipeline.h"
#include "probe/probes.h"
#include "util/clock.h"

namespace populi::cli {

sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

Status EnsureDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Unavailable("cannot create data directory " + dir + ": " + ec.message(),
                       "set [mesh.store] path to a writable directory");
  }
  return Status::Ok();
}

std::string SavedTokenPath(const config::Config& cfg) {
  return cfg.data_dir() + "/mesh-token";
}

std::string NodeToken(const config::Config& cfg) {
  for (const char* key : {"mesh.auth.worker_token", "mesh.token", "mesh.auth.admin_token"}) {
    if (cfg.IsSet(key) && !cfg.GetString(key).empty()) return cfg.GetString(key);
  }
  std::ifstream in(SavedTokenPath(cfg));
  std::string token;
  std::getline(in, token);
  return token;
}

namespace {

// The model inventory reporter's options from [mesh.models] and [mesh.inference].
Result<agent::InventoryReporterOptions> InventoryOptionsFromConfig(const config::Config& cfg,
                                                                   const std::string& node_id) {
  agent::InventoryReporterOptions o;
  o.node_id = node_id;
  o.poll_ms = cfg.GetDurationSecs("mesh.models.poll_interval") * 1000;
  o.scan.node_id = node_id;
  o.scan.model_dirs = cfg.GetList("mesh.models.dirs");
  const std::string hub = cfg.GetString("mesh.models.hub_cache");
  o.scan.hf_hub_dir = hub == "off" ? std::string() : hub.empty() ? models::HubCacheDir() : hub;
  o.scan.cache_path = cfg.data_dir() + "/models/file-cache.json";
  o.scan.estimate_context_length = static_cast<uint64_t>(cfg.GetInt("mesh.models.context_length"));
  for (const auto& text : cfg.GetList("mesh.inference.endpoints")) {
    POPULI_ASSIGN_OR_RETURN(agent::EngineEndpoint endpoint, agent::ParseEngineEndpoint(text));
    o.engines.push_back(std::move(endpoint));
  }
  return o;
}

}  // namespace

Result<AgentHandle> StartAgent(const config::Config& cfg, const std::string& control_url,
                               const std::string& token, const std::string& tls_ca_file,
                               std::shared_ptr<spdlog::logger> logger) {
  POPULI_ASSIGN_OR_RETURN(
      auto identity, agent::LoadOrCreateIdentity(cfg.data_dir(), cfg.GetString("mesh.node_id")));
  probe::ProbeOptions probe_options = probe::ProbeOptionsFromConfig(cfg);
  POPULI_RETURN_IF_ERROR(probe::ValidateProbeOptions(probe_options));
  POPULI_ASSIGN_OR_RETURN(auto probes, probe::MakeProbes(probe_options));
  POPULI_ASSIGN_OR_RETURN(agent::InventoryReporterOptions inventory,
                          InventoryOptionsFromConfig(cfg, identity.node_id));
  AgentHandle handle;
  const Clock& clock = SystemClock::Instance();
  handle.cache = std::make_unique<probe::ProbeCache>(probe::ProbePipeline(std::move(probes), clock),
                                                     clock, probe_options.cache_ttl_secs);

  agent::AgentOptions options;
  options.control_url = control_url;
  options.token = token;
  options.tls_ca_file = tls_ca_file;
  options.version = GetBuildInfo().version;
  options.scope_id = cfg.GetString("mesh.scope_id");
  options.labels = agent::ParseLabels(cfg.GetList("mesh.labels"));
  options.heartbeat_ms = cfg.GetInt("mesh.control.heartbeat_secs") * 1000;
  options.reserve = probe::DonationReserveFromConfig(cfg);
  options.hints = probe::ReadAdvertisedHints(probe::ProcessEnv());
  options.donation.enabled = cfg.GetBool("mesh.donation.enabled");
  options.donation.accepted_kinds = cfg.GetList("mesh.donation.accepted_kinds");
  options.donation.min_priority = static_cast<uint8_t>(cfg.GetInt("mesh.donation.min_priority"));
  options.data_dir = cfg.data_dir();
  POPULI_ASSIGN_OR_RETURN(options.declared_peers,
                          agent::ParseDeclaredPeers(cfg.GetList("mesh.peers.declared")));
  agent::SecretsOptions secrets;
  secrets.control_url = control_url;
  secrets.token = token;
  secrets.tls_ca_file = tls_ca_file;
  secrets.node_id = identity.node_id;
  secrets.data_dir = cfg.data_dir();
  secrets.declared = options.declared_peers;
  secrets.share_wait_ms = cfg.GetDurationSecs("mesh.secrets.wait") * 1000;
  secrets.rotation_grace_ms = cfg.GetDurationSecs("mesh.secrets.rotation_grace") * 1000;
  // The courier follows its peers' records once per round: a rotated key or an unpair is seen
  // within about one heartbeat.
  secrets.poll_wait_ms = options.heartbeat_ms;
  agent::TaskWorkerOptions worker;
  worker.secrets = secrets;
  worker.control_url = control_url;
  worker.token = token;
  worker.tls_ca_file = tls_ca_file;
  worker.node_id = identity.node_id;
  POPULI_ASSIGN_OR_RETURN(worker.policy.mode,
                          runners::ParseExecMode(cfg.GetString("mesh.policy.exec")));
  worker.policy.allowed_commands = cfg.GetList("mesh.policy.allowed_commands");
  POPULI_ASSIGN_OR_RETURN(worker.policy.sandbox,
                          runners::ParseSandbox(cfg.GetString("mesh.policy.sandbox")));
  worker.scratch_root = cfg.data_dir() + "/scratch";
  worker.run_records_dir = cfg.data_dir() + "/runs";
  worker.donation = options.donation;
  std::error_code ec;
  std::filesystem::create_directories(worker.scratch_root, ec);
  std::filesystem::permissions(worker.scratch_root, std::filesystem::perms::owner_all, ec);
  if (!inventory.engines.empty()) {
    handle.engine_load =
        std::make_unique<agent::EngineLoadMonitor>(inventory.engines, options.heartbeat_ms);
    agent::EngineLoadMonitor* monitor = handle.engine_load.get();
    options.engine_load = [monitor] { return monitor->Latest(); };
    handle.engine_load->Start();
  }
  const crypto::Ed25519KeyPair keys = identity.keys;
  handle.agent = std::make_unique<agent::Agent>(std::move(options), std::move(identity),
                                                *handle.cache, logger);
  agent::Agent* node_agent = handle.agent.get();
  worker.joined = [node_agent](int64_t wait_ms) { return node_agent->WaitJoined(wait_ms); };
  handle.worker = std::make_unique<agent::TaskWorker>(
      std::move(worker), keys,
      [node_agent](std::vector<probe::TaskReservation> running) {
        node_agent->SetRunningTasks(std::move(running));
      },
      logger);
  handle.courier = std::make_unique<agent::SecretCourier>(secrets, keys, logger);
  inventory.control_url = control_url;
  inventory.token = token;
  inventory.tls_ca_file = tls_ca_file;
  inventory.joined = [node_agent](int64_t wait_ms) { return node_agent->WaitJoined(wait_ms); };
  agent::InferenceWorkerOptions relay;
  relay.control_url = control_url;
  relay.token = token;
  relay.tls_ca_file = tls_ca_file;
  relay.node_id = inventory.node_id;
  relay.engines = inventory.engines;
  relay.joined = inventory.joined;
  handle.inventory = std::make_unique<agent::InventoryReporter>(std::move(inventory), logger);
  handle.inference = std::make_unique<agent::InferenceWorker>(std::move(relay), logger);
  handle.agent->Start();
  handle.worker->Start();
  handle.courier->Start();
  handle.inventory->Start();
  handle.inference->Start();
  return handle;
}

}  // namespace populi::cli
