// JSON codecs for pairing and secret-share documents (mesh/pairing.h, docs/secrets.md). Same
// contract as mesh/json.h: unknown fields ignored, null is absent, a wrong type or an unknown
// state names the field path. decode(encode(x)) reproduces every field of x.
//
// Required on decode: PairingKeys.node_id, .ed25519_pub_key_b64 and .x25519_pub_key_b64;
// PairingOffer.to_node, .from and .proof; Pairing.offer and .state; SecretRequest.task_id,
// .attempt, .node_id and .reply_to; SecretShare.task_id, .attempt, .from_node and .to_node.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mesh/pairing.h"
#include "util/status.h"

namespace populi::mesh {

boost::json::object ToJson(const PairingKeys& k);
Result<PairingKeys> PairingKeysFromJson(const boost::json::value& v);
boost::json::object ToJson(const PairingOffer& o);
Result<PairingOffer> PairingOfferFromJson(const boost::json::value& v);
boost::json::object ToJson(const PairingAnswer& a);
Result<PairingAnswer> PairingAnswerFromJson(const boost::json::value& v);
boost::json::object ToJson(const Pairing& p);
Result<Pairing> PairingFromJson(const boost::json::value& v);

boost::json::object ToJson(const SecretRequest& r);
Result<SecretRequest> SecretRequestFromJson(const boost::json::value& v);
boost::json::object ToJson(const SecretShare& s);
Result<SecretShare> SecretShareFromJson(const boost::json::value& v);

// Shape checks of a received offer or answer: ids as everywhere (mesh/validate.h), keys as
// standard base64 of 32 bytes, a proof present (unless burning). kInvalidArgument naming the field.
Status ValidatePairingKeys(const PairingKeys& k, std::string_view field);
Status ValidatePairingOffer(const PairingOffer& o);
Status ValidatePairingAnswer(const PairingAnswer& a);

}  // namespace populi::mesh
