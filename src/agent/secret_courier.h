// The agent's side of end-to-end secrets (docs/secrets.md).
//
// SecretCourier (every node) claims the node's secrets inbox and answers each `secret_request`
// for a task this node submitted: it checks the attempt against the control plane (the task is
// this node's, the attempt runs on the requesting node under that fencing token, the names are the
// task's) and that the requesting node is paired with it, then seals the values to that node's
// key from its own pairing record (never a key the relay hands it). Each round it also follows
// its peers' node records: a rotated key signed by the peer's paired Ed25519 key is adopted; a
// peer whose pairings changed after ours and no longer name this node is dropped (it unpaired).
//
// FetchSecrets (the task worker, before it starts a process) gets an attempt's values: from the
// local store when this node submitted the task, else by asking the submitter and waiting for its
// share, keeping the lease alive meanwhile.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/keyring.h"
#include "crypto/ed25519.h"
#include "mesh/task.h"
#include "util/status.h"

namespace spdlog {
class logger;
}

namespace populi::client {
class ControlPlaneApi;
}

namespace populi::agent {

struct SecretsOptions {
  std::string control_url;
  std::string token;
  std::string tls_ca_file;
  std::string node_id;
  std::string data_dir;            // encryption keys, pairings, secrets
  int64_t poll_wait_ms = 10'000;   // the courier's inbox long-poll; bounds Stop()
  int64_t share_wait_ms = 30'000;  // how long a worker waits for its share (mesh.secrets.wait)
  int64_t rotation_grace_ms =
      24 * 3600 * 1000;              // an old key still opens (mesh.secrets.rotation_grace)
  std::vector<PairedPeer> declared;  // mesh.peers.declared (agent/keyring.h)
};

class SecretCourier {
 public:
  SecretCourier(SecretsOptions options, crypto::Ed25519KeyPair signing_keys,
                std::shared_ptr<spdlog::logger> logger);
  ~SecretCourier();  // Stop()
  SecretCourier(const SecretCourier&) = delete;
  SecretCourier& operator=(const SecretCourier&) = delete;

  void Start();
  void Stop();  // idempotent

 private:
  void Loop();
  // Delivers the share (or the refusal) for one request. False when it could not be answered for
  // now (the control plane is away): the request is then left to be claimed again.
  bool Answer(client::ControlPlaneApi& api, const std::string& payload);
  void SyncPeers(client::ControlPlaneApi& api);
  bool Sleep(int64_t ms);

  SecretsOptions options_;
  crypto::Ed25519KeyPair keys_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread loop_;
};

// The values of every secret `a` names, for this node. `keep_alive` runs between waits; when it
// returns false (the lease is gone) the fetch gives up with kConflict. kUnavailable when no share
// came within share_wait_ms (the submitter's agent is down or unreachable).
Result<std::map<std::string, std::string>> FetchSecrets(client::ControlPlaneApi& api,
                                                        const SecretsOptions& options,
                                                        const mesh::TaskAssignment& a,
                                                        const std::function<bool()>& keep_alive);

}  // namespace populi::agent
