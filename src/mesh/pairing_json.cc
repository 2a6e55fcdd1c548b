#include "mesh/pairing_json.h"

#include <sodium.h>

#include "mesh/json_internal.h"
#include "mesh/validate.h"

namespace populi::mesh {

using namespace json_internal;

json::object ToJson(const PairingKeys& k) {
  json::object o;
  o["node_id"] = k.node_id;
  o["ed25519_pub_key_b64"] = k.ed25519_pub_key_b64;
  o["x25519_pub_key_b64"] = k.x25519_pub_key_b64;
  PutTime(o, "x25519_key_created_ms", k.x25519_key_created_ms);
  return o;
}

Result<PairingKeys> PairingKeysFromJson(const json::value& v) {
  Reader r(v, "");
  PairingKeys k;
  r.Str("node_id", k.node_id, true);
  r.Str("ed25519_pub_key_b64", k.ed25519_pub_key_b64, true);
  r.Str("x25519_pub_key_b64", k.x25519_pub_key_b64, true);
  r.Int("x25519_key_created_ms", k.x25519_key_created_ms);
  if (!r.ok()) return r.status();
  return k;
}

json::object ToJson(const PairingOffer& o) {
  json::object j;
  j["to_node"] = o.to_node;
  j["from"] = ToJson(o.from);
  j["proof"] = o.proof;
  return j;
}

Result<PairingOffer> PairingOfferFromJson(const json::value& v) {
  Reader r(v, "");
  PairingOffer o;
  r.Str("to_node", o.to_node, true);
  if (const json::value* from = r.Object("from", true)) {
    auto k = PairingKeysFromJson(*from);
    if (!k.ok()) return AtPath(k.status(), "from");
    o.from = std::move(*k);
  }
  r.Str("proof", o.proof, true);
  if (!r.ok()) return r.status();
  return o;
}

json::object ToJson(const PairingAnswer& a) {
  json::object j;
  if (!a.to.node_id.empty()) j["to"] = ToJson(a.to);
  PutStr(j, "proof", a.proof);
  if (a.burn) j["burn"] = true;
  return j;
}

Result<PairingAnswer> PairingAnswerFromJson(const json::value& v) {
  Reader r(v, "");
  PairingAnswer a;
  if (const json::value* to = r.Object("to")) {
    auto k = PairingKeysFromJson(*to);
    if (!k.ok()) return AtPath(k.status(), "to");
    a.to = std::move(*k);
  }
  r.Str("proof", a.proof);
  r.Bool("burn", a.burn);
  if (!r.ok()) return r.status();
  return a;
}

json::object ToJson(const Pairing& p) {
  json::object j;
  j["offer"] = ToJson(p.offer);
  j["state"] = ToString(p.state);
  if (p.state == PairingState::kAnswered) j["answer"] = ToJson(p.answer);
  PutTime(j, "created_ms", p.created_ms);
  PutTime(j, "expires_ms", p.expires_ms);
  return j;
}

Result<Pairing> PairingFromJson(const json::value& v) {
  Reader r(v, "");
  Pairing p;
  if (const json::value* offer = r.Object("offer", true)) {
    auto o = PairingOfferFromJson(*offer);
    if (!o.ok()) return AtPath(o.status(), "offer");
    p.offer = std::move(*o);
  }
  r.Enum("state", p.state, ParsePairingState, true);
  if (const json::value* answer = r.Object("answer")) {
    auto a = PairingAnswerFromJson(*answer);
    if (!a.ok()) return AtPath(a.status(), "answer");
    p.answer = std::move(*a);
  }
  r.Int("created_ms", p.created_ms);
  r.Int("expires_ms", p.expires_ms);
  if (!r.ok()) return r.status();
  return p;
}

json::object ToJson(const SecretRequest& q) {
  json::object j;
  j["task_id"] = q.task_id;
  j["attempt"] = q.attempt;
  j["fencing_token"] = q.fencing_token;
  j["node_id"] = q.node_id;
  json::array names;
  for (const auto& n : q.names) names.emplace_back(n);
  j["names"] = std::move(names);
  j["reply_to"] = q.reply_to;
  return j;
}

Result<SecretRequest> SecretRequestFromJson(const json::value& v) {
  Reader r(v, "");
  SecretRequest q;
  r.Str("task_id", q.task_id, true);
  r.Num("attempt", q.attempt, true);
  r.Int("fencing_token", q.fencing_token);
  r.Str("node_id", q.node_id, true);
  r.Strings("names", q.names);
  r.Str("reply_to", q.reply_to, true);
  if (!r.ok()) return r.status();
  return q;
}

json::object ToJson(const SecretShare& s) {
  json::object j;
  j["task_id"] = s.task_id;
  j["attempt"] = s.attempt;
  j["fencing_token"] = s.fencing_token;
  j["from_node"] = s.from_node;
  j["to_node"] = s.to_node;
  json::array names;
  for (const auto& n : s.names) names.emplace_back(n);
  j["names"] = std::move(names);
  PutStr(j, "error", s.error);
  PutStr(j, "signature_b64", s.signature_b64);
  return j;
}

Result<SecretShare> SecretShareFromJson(const json::value& v) {
  Reader r(v, "");
  SecretShare s;
  r.Str("task_id", s.task_id, true);
  r.Num("attempt", s.attempt, true);
  r.Int("fencing_token", s.fencing_token);
  r.Str("from_node", s.from_node, true);
  r.Str("to_node", s.to_node, true);
  r.Strings("names", s.names);
  r.Str("error", s.error);
  r.Str("signature_b64", s.signature_b64);
  if (!r.ok()) return r.status();
  return s;
}

namespace {

Status ValidateKey32(std::string_view b64, const std::string& field) {
  unsigned char bin[32];
  size_t len = 0;
  if (b64.empty() ||
      sodium_base642bin(bin, sizeof bin, b64.data(), b64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != sizeof bin) {
    return InvalidArgument(field + ": expected standard base64 of a 32-byte public key",
                           "see docs/secrets.md for the pairing documents");
  }
  return Status::Ok();
}

}  // namespace

Status ValidatePairingKeys(const PairingKeys& k, std::string_view field) {
  const std::string f(field);
  POPULI_RETURN_IF_ERROR(ValidateId(f + ".node_id", k.node_id));
  POPULI_RETURN_IF_ERROR(ValidateKey32(k.ed25519_pub_key_b64, f + ".ed25519_pub_key_b64"));
  POPULI_RETURN_IF_ERROR(ValidateKey32(k.x25519_pub_key_b64, f + ".x25519_pub_key_b64"));
  if (k.x25519_key_created_ms < 0)
    return InvalidArgument(f + ".x25519_key_created_ms: expected a non-negative integer",
                           "see docs/secrets.md for the pairing documents");
  return Status::Ok();
}

Status ValidatePairingOffer(const PairingOffer& o) {
  POPULI_RETURN_IF_ERROR(ValidateId("to_node", o.to_node));
  POPULI_RETURN_IF_ERROR(ValidatePairingKeys(o.from, "from"));
  if (o.from.node_id == o.to_node)
    return InvalidArgument("to_node: a node cannot pair with itself",
                           "name the other node: vox populi pair NODE");
  if (o.proof.empty() || o.proof.size() > 128)
    return InvalidArgument("proof: expected the offer's proof (1..128 characters)",
                           "see docs/secrets.md for the pairing documents");
  return Status::Ok();
}

Status ValidatePairingAnswer(const PairingAnswer& a) {
  if (a.burn) return Status::Ok();
  POPULI_RETURN_IF_ERROR(ValidatePairingKeys(a.to, "to"));
  if (a.proof.empty() || a.proof.size() > 128)
    return InvalidArgument("proof: expected the answer's proof (1..128 characters)",
                           "see docs/secrets.md for the pairing documents");
  return Status::Ok();
}

}  // namespace populi::mesh
