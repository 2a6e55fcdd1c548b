#include "mesh/pairing.h"

#include <string>

namespace populi::mesh {

const char* ToString(PairingState s) {
  switch (s) {
    case PairingState::kOffered:
      return "offered";
    case PairingState::kAnswered:
      return "answered";
    case PairingState::kBurned:
      return "burned";
  }
  return "offered";
}

Result<PairingState> ParsePairingState(std::string_view s) {
  for (PairingState v : {PairingState::kOffered, PairingState::kAnswered, PairingState::kBurned}) {
    if (s == ToString(v)) return v;
  }
  return InvalidArgument("unknown pairing state '" + std::string(s) + "'",
                         "one of: offered, answered, burned");
}

namespace {

// Lines of `key: value`; ids and base64 never contain a newline (validated on the wire).
void AppendKeys(std::string& out, std::string_view role, const PairingKeys& k) {
  out.append(role).append(".node: ").append(k.node_id).append("\n");
  out.append(role).append(".ed25519: ").append(k.ed25519_pub_key_b64).append("\n");
  out.append(role).append(".x25519: ").append(k.x25519_pub_key_b64).append("\n");
  out.append(role).append(".x25519_created_ms: ");
  out.append(std::to_string(k.x25519_key_created_ms)).append("\n");
}

}  // namespace

std::string OfferTranscript(const PairingOffer& offer) {
  std::string t = "populi-pairing-offer-v1\nto: " + offer.to_node + "\n";
  AppendKeys(t, "from", offer.from);
  return t;
}

std::string AnswerTranscript(const PairingOffer& offer, const PairingKeys& answerer) {
  std::string t = "populi-pairing-answer-v1\n" + OfferTranscript(offer);
  AppendKeys(t, "answer", answerer);
  return t;
}

std::string X25519KeyStatement(std::string_view node_id, std::string_view x25519_pub_key_b64,
                               int64_t created_ms) {
  std::string t = "populi-x25519-key-v1\nnode: ";
  t.append(node_id).append("\nkey: ").append(x25519_pub_key_b64).append("\ncreated_ms: ");
  t.append(std::to_string(created_ms)).append("\n");
  return t;
}

std::string SecretsInboxFor(const std::string& node_id) {
  return "secrets:" + node_id;
}

std::string SecretShareInboxFor(const std::string& task_id, int32_t attempt) {
  return "secret-share:" + task_id + "." + std::to_string(attempt);
}

std::string SecretShareStatement(const SecretShare& share, std::string_view jwe) {
  std::string t = "populi-secret-share-v1\ntask: " + share.task_id;
  t += "\nattempt: " + std::to_string(share.attempt);
  t += "\nfencing_token: " + std::to_string(share.fencing_token);
  t += "\nfrom: " + share.from_node + "\nto: " + share.to_node + "\nnames:";
  for (const auto& n : share.names) t += " " + n;
  t += "\nerror: " + share.error + "\njwe: ";
  t.append(jwe).append("\n");
  return t;
}

}  // namespace populi::mesh
