#include "agent/envelope.h"

#include <algorithm>

#include <boost/json.hpp>

#include "crypto/fingerprint.h"
#include "crypto/jwe.h"
#include "crypto/secret.h"
#include "mesh/json.h"
#include "mesh/json_reader.h"

namespace populi::agent {
namespace json = boost::json;
namespace {

constexpr std::string_view kHint = "see docs/secrets.md";

Status Denied(const std::string& why) {
  return Status(Code::kPermissionDenied, "secret share refused: " + why, std::string(kHint));
}

Result<std::array<uint8_t, 32>> PublicKey(const std::string& b64, const std::string& what) {
  auto key = crypto::Key32FromBase64(b64);
  if (!key.ok()) return InvalidArgument(what + " is not a 32-byte public key", std::string(kHint));
  return key;
}

mesh::SecretShare ShareFor(const mesh::SecretRequest& request, const std::string& from_node) {
  mesh::SecretShare share;
  share.task_id = request.task_id;
  share.attempt = request.attempt;
  share.fencing_token = request.fencing_token;
  share.from_node = from_node;
  share.to_node = request.node_id;
  share.names = request.names;
  return share;
}

}  // namespace

Result<SealedShare> SealShare(const mesh::SecretRequest& request, const std::string& from_node,
                              const PairedPeer& peer,
                              const std::map<std::string, std::string>& values,
                              const crypto::Ed25519KeyPair& signing_keys) {
  if (peer.node_id != request.node_id) {
    return InvalidArgument(
        "the peer " + peer.node_id + " is not the requesting node " + request.node_id,
        std::string(kHint));
  }
  POPULI_ASSIGN_OR_RETURN(auto recipient, PublicKey(peer.x25519_pub_key_b64, "x25519 key"));
  json::object plain;
  for (const auto& name : request.names) {
    auto it = values.find(name);
    if (it == values.end())
      return InvalidArgument("no value for secret " + name, std::string(kHint));
    plain[name] = it->second;
  }
  std::string text = json::serialize(plain);
  for (auto& kv : plain) {
    auto& s = kv.value().as_string();
    crypto::Wipe(s.data(), s.size());
  }
  crypto::JweHeaderClaims claims;
  claims.extra = {{"populi_task", request.task_id},
                  {"populi_attempt", std::to_string(request.attempt)},
                  {"populi_token", std::to_string(request.fencing_token)},
                  {"populi_from", from_node},
                  {"populi_to", request.node_id}};
  auto jwe = crypto::JweEncrypt(recipient, claims, text);
  crypto::Wipe(text);
  if (!jwe.ok()) return jwe.status();
  SealedShare sealed{ShareFor(request, from_node), std::move(*jwe)};
  sealed.share.signature_b64 =
      crypto::SignBase64(signing_keys, mesh::SecretShareStatement(sealed.share, sealed.jwe));
  return sealed;
}

SealedShare RefuseShare(const mesh::SecretRequest& request, const std::string& from_node,
                        const std::string& error, const crypto::Ed25519KeyPair& signing_keys) {
  SealedShare sealed{ShareFor(request, from_node), ""};
  sealed.share.error = error;
  sealed.share.signature_b64 =
      crypto::SignBase64(signing_keys, mesh::SecretShareStatement(sealed.share, ""));
  return sealed;
}

namespace {

// The header members binding the envelope to one attempt must name `expected`'s.
Status CheckBinding(const crypto::JweHeaderClaims& claims, const ExpectedShare& expected,
                    const std::string& submitter) {
  auto member = [&](const char* name) -> std::string {
    auto it = claims.extra.find(name);
    return it == claims.extra.end() ? std::string() : it->second;
  };
  if (member("populi_task") != expected.task_id) return Denied("sealed for another task");
  if (member("populi_attempt") != std::to_string(expected.attempt))
    return Denied("sealed for another attempt");
  if (member("populi_token") != std::to_string(expected.fencing_token))
    return Denied("sealed under another fencing token");
  if (member("populi_from") != submitter) return Denied("sealed by another node");
  if (member("populi_to") != expected.self) return Denied("sealed for another node");
  return Status::Ok();
}

Result<std::map<std::string, std::string>> ReadValues(std::string& plaintext,
                                                      const std::vector<std::string>& names) {
  boost::system::error_code ec;
  json::value v = json::parse(plaintext, ec);
  crypto::Wipe(plaintext);
  if (ec) return InvalidArgument("the secret share's plaintext is not JSON", std::string(kHint));
  mesh::FieldReader r(v, "", {std::string(kHint)});
  std::map<std::string, std::string> values;
  for (const auto& name : names) r.Str(name, values[name], true);
  if (auto* o = v.if_object()) {
    for (auto& kv : *o) {
      if (auto* s = kv.value().if_string()) crypto::Wipe(s->data(), s->size());
    }
  }
  if (!r.ok()) {
    for (auto& [n, value] : values) crypto::Wipe(value);
    return Status(Code::kInvalidArgument, "the secret share lacks a value: " + r.status().message(),
                  std::string(kHint));
  }
  return values;
}

}  // namespace

Result<std::map<std::string, std::string>> OpenShare(const mesh::SecretShare& share,
                                                     std::string_view jwe,
                                                     const ExpectedShare& expected,
                                                     const PairedPeer& submitter,
                                                     const EncryptionKeys& keys, int64_t now_ms,
                                                     int64_t rotation_grace_ms) {
  if (!crypto::VerifyBase64(submitter.ed25519_pub_key_b64, mesh::SecretShareStatement(share, jwe),
                            share.signature_b64)) {
    return Denied("the signature is not " + submitter.node_id + "'s");
  }
  if (share.from_node != submitter.node_id) return Denied("sent by another node");
  if (share.task_id != expected.task_id || share.attempt != expected.attempt ||
      share.fencing_token != expected.fencing_token) {
    return Denied("it is for another attempt");
  }
  if (share.to_node != expected.self) return Denied("it is for another node");
  if (!share.error.empty()) {
    return Status(Code::kFailedPrecondition, submitter.node_id + " refused: " + share.error,
                  std::string(kHint));
  }
  // The key the envelope names: the current one, or the previous one while its grace lasts.
  const crypto::X25519KeyPair* key = &keys.current;
  auto opened = crypto::JweDecrypt(*key, jwe);
  if (!opened.ok() && keys.previous && now_ms < keys.previous_retired_ms + rotation_grace_ms) {
    auto old = crypto::JweDecrypt(*keys.previous, jwe);
    if (old.ok()) opened = std::move(old);
  }
  if (!opened.ok()) {
    return Status(opened.status().code() == Code::kInvalidArgument ? Code::kInvalidArgument
                                                                   : Code::kPermissionDenied,
                  "secret share refused: " + opened.status().message(), std::string(kHint));
  }
  if (Status s = CheckBinding(opened->claims, expected, submitter.node_id); !s.ok()) {
    crypto::Wipe(opened->plaintext);
    return s;
  }
  return ReadValues(opened->plaintext, expected.names);
}

}  // namespace populi::agent
