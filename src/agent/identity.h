// A node's identity: a stable node id and an Ed25519 key pair, kept in <data
// dir>/node-identity.json (mode 0600, written atomically). Created on first run; the same id and
// key on every restart. A configured id (mesh.node_id) wins over the stored one; the key is kept
// either way.
#pragma once

#include <optional>
#include <string>

#include "crypto/ed25519.h"
#include "util/status.h"

namespace populi::agent {

struct NodeIdentity {
  std::string node_id;
  crypto::Ed25519KeyPair keys;
  std::string public_key_b64() const;
  std::string path;  // the file it lives in
};

// The identity file under `data_dir`.
std::string IdentityPath(const std::string& data_dir);

// Loads the identity, creating the directory and the file (0600) when absent. A file readable by
// others is refused (kPermissionDenied with a chmod hint); a corrupt file (not JSON, a missing or
// mistyped field, named in the message, a bad seed) is kFailedPrecondition, never silently
// replaced (the node would change identity). Unknown fields in the file are ignored.
Result<NodeIdentity> LoadOrCreateIdentity(const std::string& data_dir,
                                          const std::string& configured_node_id);

// Loads without creating: nullopt when there is no identity file yet.
Result<std::optional<NodeIdentity>> LoadIdentity(const std::string& data_dir,
                                                 const std::string& configured_node_id);

// A default node id from the host name: lowercase, characters outside [a-z0-9.-] replaced by
// '-', at most 48 characters, plus '-' and 6 random hex characters (hosts often share names).
std::string DefaultNodeId(const std::string& hostname);

}  // namespace populi::agent
