// What a node keeps for end-to-end secrets (docs/secrets.md), beside its identity under the data
// directory, each file mode 0600:
//   encryption-keys.json  this node's X25519 key pair, and after a rotation the one it replaced
//                         (kept for the grace period so envelopes already sealed to it open);
//   pairings.json         the nodes this node is paired with: their Ed25519 and X25519 public
//                         keys as learnt in the pairing (or declared in [mesh.peers]).
// The CLI (pair, unpair, rotate) and the running agent (adopting a peer's rotated key, dropping
// a peer that unpaired) both update them; every update holds the file's lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/x25519.h"
#include "util/status.h"

namespace populi::agent {

struct EncryptionKeys {
  crypto::X25519KeyPair current;
  int64_t created_ms = 0;
  // The key `current` replaced, until `previous_retired_ms` + the grace: still opens envelopes.
  std::optional<crypto::X25519KeyPair> previous;
  int64_t previous_retired_ms = 0;
};

std::string EncryptionKeysPath(const std::string& data_dir);
// Loads the keys, making a first key pair (created now) when the file is absent. Corrupt file →
// kFailedPrecondition naming the field; readable by others → kPermissionDenied.
Result<EncryptionKeys> LoadOrCreateEncryptionKeys(const std::string& data_dir, int64_t now_ms);
// Makes a new current key; the old one becomes `previous`, retired now.
Result<EncryptionKeys> RotateEncryptionKeys(const std::string& data_dir, int64_t now_ms);

// A paired node as this node knows it.
struct PairedPeer {
  std::string node_id;
  std::string ed25519_pub_key_b64;
  std::string x25519_pub_key_b64;
  int64_t x25519_key_created_ms = 0;
  int64_t paired_ms = 0;
  std::string safety_number;  // as both operators saw it
  bool declared = false;      // from [mesh.peers] in Vox.toml, not from a pairing
};

std::string PairingsPath(const std::string& data_dir);
// Every paired node, sorted by id (none when the file is absent).
Result<std::vector<PairedPeer>> LoadPairings(const std::string& data_dir);
// Adds `peer` or replaces the entry with its id.
Status PutPairing(const std::string& data_dir, const PairedPeer& peer);
// Removes `node_id`; returns whether it was there.
Result<bool> RemovePairing(const std::string& data_dir, const std::string& node_id);

// Peers declared in configuration (mesh.peers.declared), each "NODE_ID:ED25519_KEY:X25519_KEY"
// with standard base64 32-byte public keys (the node id may itself contain ':'; the keys are
// the last two fields). kInvalidArgument naming the entry for anything else. They are marked
// `declared` and live in configuration only, never in pairings.json.
Result<std::vector<PairedPeer>> ParseDeclaredPeers(const std::vector<std::string>& entries);

// Every peer this node is paired with: pairings.json and the declared peers; a declared peer
// wins over a stored pairing with the same id (configuration states the operator's intent).
Result<std::vector<PairedPeer>> LoadPeers(const std::string& data_dir,
                                          const std::vector<PairedPeer>& declared);

}  // namespace populi::agent
