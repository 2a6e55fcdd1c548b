// Sealing and opening the secrets of one attempt (docs/secrets.md, "Envelope format"). Pure: no
// I/O; the courier (submitter side) and the fetch (worker side) do the messaging.
//
// A share is one compact JWE to the recipient's X25519 key whose plaintext is a JSON object of
// name → value, with the attempt it is for in the protected header (populi_task, populi_attempt,
// populi_token, populi_from, populi_to), and the submitter's Ed25519 signature over the share and
// the JWE (mesh::SecretShareStatement). OpenShare accepts it only for the attempt it was sealed
// for, from the peer it was paired with, under this node's current key (or the previous one
// within the rotation grace).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "agent/keyring.h"
#include "crypto/ed25519.h"
#include "mesh/pairing.h"
#include "util/status.h"

namespace populi::agent {

struct SealedShare {
  mesh::SecretShare share;
  std::string jwe;  // the message's jwe_payload
};

// Seals `values` (every name of `request`) for `peer`. kInvalidArgument when `peer` is not the
// request's node or a value is missing.
Result<SealedShare> SealShare(const mesh::SecretRequest& request, const std::string& from_node,
                              const PairedPeer& peer,
                              const std::map<std::string, std::string>& values,
                              const crypto::Ed25519KeyPair& signing_keys);

// A refusal for `request` (share.error set, no JWE), signed the same way.
SealedShare RefuseShare(const mesh::SecretRequest& request, const std::string& from_node,
                        const std::string& error, const crypto::Ed25519KeyPair& signing_keys);

// What the worker expects: the attempt it runs and who must have sealed it.
struct ExpectedShare {
  std::string task_id;
  int32_t attempt = 0;
  int64_t fencing_token = 0;
  std::string self;  // this node
  std::vector<std::string> names;
};

// The values, once every check passed. kPermissionDenied for a share from anyone but `submitter`
// (signature, sender), for another attempt, task, token or node, for a key this node does not
// hold (or held before the grace ended), or a JWE that fails authentication; kFailedPrecondition
// carrying the submitter's refusal; kInvalidArgument for a malformed share.
Result<std::map<std::string, std::string>> OpenShare(const mesh::SecretShare& share,
                                                     std::string_view jwe,
                                                     const ExpectedShare& expected,
                                                     const PairedPeer& submitter,
                                                     const EncryptionKeys& keys, int64_t now_ms,
                                                     int64_t rotation_grace_ms);

}  // namespace populi::agent
