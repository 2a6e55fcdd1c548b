// The node agent: keeps this node joined to a control plane (MESH-032, MESH-033, MESH-126).
//
// One loop thread joins (idempotent upsert of the node record), then heartbeats every
// heartbeat interval (the control plane's value from the join answer). The record is rebuilt from
// the probe cache (never a fresh probe on the heartbeat path, MESH-186/187) and re-sent with a
// join whenever it changes; a plain heartbeat carries the node id and, when the node has
// engines, what they last said of their load (agent/engine_load.h, read on its own thread).
// A prober thread refreshes the cache when its TTL passes.
//
// Failures: every failed call is logged at INFO with the control plane's URL; the next try waits
// an exponentially growing, fully jittered, capped delay (agent/backoff.h), reset on success. A
// heartbeat answered 404 (the control plane forgot the node) re-joins at once.
// Stop(leave=true) sends a leave so the control plane records node.left at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/backoff.h"
#include "agent/identity.h"
#include "agent/keyring.h"
#include "mesh/inference.h"
#include "mesh/types.h"
#include "probe/cache.h"
#include "probe/capacity.h"

namespace spdlog {
class logger;
}

namespace populi::client {
class ControlPlaneApi;
}

namespace populi::agent {

struct AgentOptions {
  std::string control_url;  // http(s)://host:port
  std::string token;        // bearer token (mesh or worker role); never logged
  std::string tls_ca_file;
  std::string version;  // this binary's version, sent in the record
  std::string scope_id;
  std::map<std::string, std::string> labels;  // Layer C hints: restrict / prefer, never capacity
  int64_t heartbeat_ms = 2'000;  // until the control plane's join answer says otherwise
  int64_t backoff_base_ms = 500;
  int64_t backoff_cap_ms = 30'000;
  int request_timeout_ms = 5'000;
  probe::DonationReserve reserve;
  probe::AdvertisedHints hints;
  mesh::DonationPolicy donation;  // reported in the record; the scheduler and worker apply it
  // The data directory: the record carries the X25519 key and the pairings kept there
  // (agent/keyring.h), re-read whenever their files change. Empty: neither is reported.
  std::string data_dir;
  std::vector<PairedPeer> declared_peers;  // mesh.peers.declared: reported as paired too
  // The engines' last load readings, sent with each heartbeat (empty: none). Must not block.
  std::function<std::vector<mesh::EngineLoad>()> engine_load;
};

struct AgentStats {
  int64_t joins = 0;
  int64_t heartbeats_ok = 0;
  int64_t failures = 0;          // failed join / heartbeat calls in total
  int consecutive_failures = 0;  // since the last success
  int64_t last_delay_ms = 0;     // the last backoff delay waited
  bool joined = false;
};

class Agent {
 public:
  // `cache` outlives the agent. The identity's id and public key go into the record.
  Agent(AgentOptions options, NodeIdentity identity, probe::ProbeCache& cache,
        std::shared_ptr<spdlog::logger> logger);
  ~Agent();  // Stop(false)
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  void Start();
  // Stops the threads; with `leave`, first tells the control plane (one short try). Idempotent.
  void Stop(bool leave);

  // Running tasks (Layer B reservations): the record is rebuilt and re-sent on the next beat.
  void SetRunningTasks(std::vector<probe::TaskReservation> running);

  const std::string& node_id() const { return identity_.node_id; }
  const NodeIdentity& identity() const { return identity_; }
  AgentStats stats() const;
  // True once the first join has landed; waits up to `timeout_ms` for it.
  bool WaitJoined(int64_t timeout_ms);
  // The record as last built (for tests and status).
  mesh::NodeRecord record() const;

 private:
  void Loop();
  void ProbeLoop();
  // Rebuilds the record when the probe cache or the running set changed. True when it changed.
  bool RebuildRecord();
  // Fills the record's encryption key and pairing fields from the data directory when its files
  // changed since the last look. True when a field changed.
  bool RefreshKeyState();
  Status Join();
  Status Heartbeat();
  void Leave();
  // Waits up to `ms` or until Stop(); false when stopping.
  bool Sleep(int64_t ms);
  void RecordFailure(const char* what, const Status& status);

  AgentOptions options_;
  NodeIdentity identity_;
  probe::ProbeCache& cache_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<client::ControlPlaneApi> api_;
  Backoff backoff_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool record_dirty_ = true;
  int64_t record_cycle_ = -1;  // probe-cache cycle the record was built from
  std::vector<probe::TaskReservation> running_;
  mesh::NodeRecord record_;
  int64_t heartbeat_ms_;
  AgentStats stats_;
  int64_t keys_seen_ns_ = -1;      // encryption-keys.json's mtime when last read
  int64_t pairings_seen_ns_ = -1;  // pairings.json's mtime when last read

  std::thread loop_;
  std::thread prober_;
};

// "key=value" items (mesh.labels) as a map; items without '=' map to "".
std::map<std::string, std::string> ParseLabels(const std::vector<std::string>& items);

}  // namespace populi::agent
