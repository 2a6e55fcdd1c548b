// Pairing and end-to-end secrets on the wire (docs/secrets.md). Pure data; the codecs are in
// mesh/pairing_json.h.
//
// Pairing: node A offers its public keys to node B through the control plane with a proof keyed
// by a one-time code that only the two operators see; B answers with its keys and a proof over
// both; each side then stores the other's keys. The control plane relays and cannot substitute a
// key: it never sees the code, and both operators compare the same safety number.
//
// Secrets: once a task naming secrets is placed on B, B's agent sends a `secret_request` to the
// submitter A's secrets inbox; A checks the attempt against the control plane and its own pairing
// with B, and answers with a `secret_share` whose `jwe_payload` is one compact JWE to B's X25519
// key, bound to the task, attempt and fencing token and signed with A's Ed25519 key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace populi::mesh {

// One node's public keys as pairing exchanges them (standard base64, as in NodeRecord).
struct PairingKeys {
  std::string node_id;
  std::string ed25519_pub_key_b64;
  std::string x25519_pub_key_b64;
  int64_t x25519_key_created_ms = 0;
};

// POST /v1/populi/pairings: A's offer to B. `proof` is crypto::PairingProof(code,
// OfferTranscript(offer)).
struct PairingOffer {
  std::string to_node;
  PairingKeys from;
  std::string proof;
};

// POST /v1/populi/pairings/{to}/{from}/answer: B's keys and crypto::PairingProof(code,
// AnswerTranscript(offer, answer.to)); or, with `burn`, B's report that the code did not match
// (the offer is then dead: a wrong code costs the attempt).
struct PairingAnswer {
  PairingKeys to;
  std::string proof;
  bool burn = false;
};

enum class PairingState { kOffered, kAnswered, kBurned };
const char* ToString(PairingState s);
// kInvalidArgument for anything but offered, answered, burned.
Result<PairingState> ParsePairingState(std::string_view s);

// What the control plane keeps of one pairing in flight (GET /v1/populi/pairings/{to}/{from}).
struct Pairing {
  PairingOffer offer;
  PairingState state = PairingState::kOffered;
  PairingAnswer answer;  // set once answered
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
};

// The exact bytes each proof covers: every key of both sides and the direction, so a relay that
// changes any of them makes the proof fail.
std::string OfferTranscript(const PairingOffer& offer);
std::string AnswerTranscript(const PairingOffer& offer, const PairingKeys& answerer);

// What a node signs (Ed25519) when it announces its X25519 key in its node record, so a paired
// peer adopts a rotated key only from the node itself, never from the relay alone.
std::string X25519KeyStatement(std::string_view node_id, std::string_view x25519_pub_key_b64,
                               int64_t created_ms);

// The inbox a node's agent answers `secret_request`s from: "secrets:<node id>".
std::string SecretsInboxFor(const std::string& node_id);
// The inbox one attempt waits for its `secret_share` in: "secret-share:<task id>.<attempt>".
std::string SecretShareInboxFor(const std::string& task_id, int32_t attempt);

// The `secret_request` payload: the attempt that needs the submitter's secrets.
struct SecretRequest {
  std::string task_id;
  int32_t attempt = 0;
  int64_t fencing_token = 0;
  std::string node_id;  // where the attempt runs (the recipient of the envelope)
  std::vector<std::string> names;
  std::string reply_to;  // SecretShareInboxFor(task_id, attempt)
};

// The `secret_share` payload; the envelope itself (one compact JWE whose plaintext is a JSON
// object of name → value) is the message's `jwe_payload`. `error` instead of an envelope when
// the submitter refuses (not paired, unknown secret, the attempt is not where the request says).
struct SecretShare {
  std::string task_id;
  int32_t attempt = 0;
  int64_t fencing_token = 0;
  std::string from_node;
  std::string to_node;
  std::vector<std::string> names;
  std::string error;
  std::string signature_b64;  // Ed25519 of from_node over SecretShareStatement(share, jwe)
};
std::string SecretShareStatement(const SecretShare& share, std::string_view jwe);

}  // namespace populi::mesh
