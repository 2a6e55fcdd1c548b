// Wiring of the node agent from the layered configuration, shared by `vox populi serve` (a local
// agent joined to its own control plane) and `vox populi join URL` (an agent for a remote one).
#pragma once

#include <signal.h>

#include <memory>
#include <string>

#include "agent/agent.h"
#include "agent/engine_load.h"
#include "agent/inference_worker.h"
#include "agent/inventory_reporter.h"
#include "agent/secret_courier.h"
#include "agent/task_worker.h"
#include "config/config.h"
#include "probe/cache.h"

namespace spdlog {
class logger;
}

namespace populi::cli {

struct AgentHandle {
  std::unique_ptr<probe::ProbeCache> cache;
  std::unique_ptr<agent::EngineLoadMonitor> engine_load;  // its engines' own load readings
  std::unique_ptr<agent::Agent> agent;
  std::unique_ptr<agent::TaskWorker> worker;
  std::unique_ptr<agent::SecretCourier> courier;        // answers other nodes' secret requests
  std::unique_ptr<agent::InventoryReporter> inventory;  // the node's model inventory
  std::unique_ptr<agent::InferenceWorker> inference;    // relays front-door jobs to its engines
  // Leave first (node.left at once; the control plane revokes this node's task leases), then
  // stop the worker (kills what still runs).
  void Stop() {
    if (inference) inference->RequestStop();  // its poll ends while the others stop
    if (agent) agent->Stop(/*leave=*/true);
    if (engine_load) engine_load->Stop();
    if (worker) worker->Stop();
    if (courier) courier->Stop();
    if (inventory) inventory->Stop();
    if (inference) inference->Stop();
  }
};

// Builds the identity (created on first run under the data dir), the probe cache, the agent, its
// task worker (policy from [mesh.policy]) and its model inventory reporter ([mesh.models],
// [mesh.inference]), and starts them. `token` is what the agent presents
// (never logged).
Result<AgentHandle> StartAgent(const config::Config& cfg, const std::string& control_url,
                               const std::string& token, const std::string& tls_ca_file,
                               std::shared_ptr<spdlog::logger> logger);

// The token a node presents: mesh.auth.worker_token, else mesh.token, else
// mesh.auth.admin_token, else the token saved by an earlier bootstrap exchange
// (<data dir>/mesh-token), else empty.
std::string NodeToken(const config::Config& cfg);

// Blocks SIGTERM and SIGINT in the calling thread before any other thread exists, so threads
// started later inherit the mask and only the caller's sigwait() sees them. Returns the set.
sigset_t BlockStopSignals();

// Creates the data directory (kUnavailable with a hint when it cannot).
Status EnsureDataDir(const std::string& dir);

// Where a bootstrap exchange's mesh token is kept (0600).
std::string SavedTokenPath(const config::Config& cfg);

}  // namespace populi::cli
