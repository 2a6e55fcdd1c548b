// Pairing and secret-share documents: codecs, shape checks and the transcripts proofs cover.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mesh/json.h"
#include "mesh/pairing.h"
#include "mesh/pairing_json.h"

namespace populi::mesh {
namespace {

namespace json = boost::json;

// 32 bytes of base64 (any 32 bytes: the codecs check shape, not curve membership).
const std::string kKeyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string kKeyB = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

PairingOffer SampleOffer() {
  PairingOffer o;
  o.to_node = "box-b";
  o.from = {"box-a", kKeyA, kKeyB, 1700000000000};
  o.proof = "cHJvb2Y";
  return o;
}

TEST(PairingJson, OfferAnswerAndPairingRoundTrip) {
  Pairing p;
  p.offer = SampleOffer();
  p.state = PairingState::kAnswered;
  p.answer.to = {"box-b", kKeyB, kKeyA, 1700000000500};
  p.answer.proof = "YW5zd2Vy";
  p.created_ms = 10;
  p.expires_ms = 600010;
  auto back = PairingFromJson(json::value(ToJson(p)));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->offer.to_node, "box-b");
  EXPECT_EQ(back->offer.from.x25519_pub_key_b64, kKeyB);
  EXPECT_EQ(back->offer.from.x25519_key_created_ms, 1700000000000);
  EXPECT_EQ(back->state, PairingState::kAnswered);
  EXPECT_EQ(back->answer.to.node_id, "box-b");
  EXPECT_EQ(back->answer.proof, "YW5zd2Vy");
  EXPECT_EQ(back->expires_ms, 600010);
}

TEST(PairingJson, WrongTypesAndUnknownStatesNameTheField) {
  auto v = json::parse(R"({"offer":{"to_node":"b","from":{"node_id":"a","ed25519_pub_key_b64":1,
                           "x25519_pub_key_b64":"x"},"proof":"p"},"state":"offered"})");
  auto bad_key = PairingFromJson(v);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("offer.from.ed25519_pub_key_b64"), std::string::npos)
      << bad_key.status().message();
  auto state = PairingFromJson(json::parse(
      R"({"offer":{"to_node":"b","from":{"node_id":"a","ed25519_pub_key_b64":"k",
          "x25519_pub_key_b64":"x"},"proof":"p"},"state":"accepted"})"));
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.status().message().find("state"), std::string::npos);
}

TEST(PairingJson, ShapeChecksRefuseBadKeysSelfPairingAndMissingProof) {
  EXPECT_TRUE(ValidatePairingOffer(SampleOffer()).ok());
  PairingOffer short_key = SampleOffer();
  short_key.from.x25519_pub_key_b64 = "AAEC";
  Status s = ValidatePairingOffer(short_key);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("from.x25519_pub_key_b64"), std::string::npos);
  PairingOffer self = SampleOffer();
  self.to_node = "box-a";
  EXPECT_EQ(ValidatePairingOffer(self).code(), Code::kInvalidArgument);
  PairingOffer no_proof = SampleOffer();
  no_proof.proof.clear();
  EXPECT_EQ(ValidatePairingOffer(no_proof).code(), Code::kInvalidArgument);
  PairingAnswer burn;
  burn.burn = true;
  EXPECT_TRUE(ValidatePairingAnswer(burn).ok());
  PairingAnswer empty;
  EXPECT_EQ(ValidatePairingAnswer(empty).code(), Code::kInvalidArgument);
}

TEST(PairingJson, TranscriptsCoverEveryKeyAndTheDirection) {
  const PairingOffer offer = SampleOffer();
  const std::string base = OfferTranscript(offer);
  PairingOffer changed = offer;
  changed.from.x25519_pub_key_b64 = kKeyA;
  EXPECT_NE(OfferTranscript(changed), base);
  changed = offer;
  changed.from.ed25519_pub_key_b64 = kKeyB;
  EXPECT_NE(OfferTranscript(changed), base);
  changed = offer;
  changed.to_node = "box-c";
  EXPECT_NE(OfferTranscript(changed), base);
  changed = offer;
  changed.proof = "other";  // the proof is not part of what it proves
  EXPECT_EQ(OfferTranscript(changed), base);
  const PairingKeys answerer{"box-b", kKeyB, kKeyA, 5};
  PairingKeys other = answerer;
  other.x25519_pub_key_b64 = kKeyB;
  EXPECT_NE(AnswerTranscript(offer, answerer), AnswerTranscript(offer, other));
  EXPECT_NE(AnswerTranscript(offer, answerer).find(base), std::string::npos);
}

TEST(PairingJson, SecretRequestAndShareRoundTripAndStatementsBindTheAttempt) {
  SecretRequest q{"t-1", 2, 7, "box-b", {"HF_TOKEN", "DB_URL"}, SecretShareInboxFor("t-1", 2)};
  auto q2 = SecretRequestFromJson(json::value(ToJson(q)));
  ASSERT_TRUE(q2.ok()) << q2.status().message();
  EXPECT_EQ(q2->names, q.names);
  EXPECT_EQ(q2->reply_to, "secret-share:t-1.2");
  EXPECT_EQ(q2->fencing_token, 7);

  SecretShare s{"t-1", 2, 7, "box-a", "box-b", {"HF_TOKEN"}, "", "c2ln"};
  auto s2 = SecretShareFromJson(json::value(ToJson(s)));
  ASSERT_TRUE(s2.ok()) << s2.status().message();
  EXPECT_EQ(s2->signature_b64, "c2ln");
  EXPECT_EQ(s2->to_node, "box-b");
  const std::string statement = SecretShareStatement(s, "jwe");
  SecretShare other = s;
  other.attempt = 3;
  EXPECT_NE(SecretShareStatement(other, "jwe"), statement);
  other = s;
  other.fencing_token = 8;
  EXPECT_NE(SecretShareStatement(other, "jwe"), statement);
  other = s;
  other.to_node = "box-c";
  EXPECT_NE(SecretShareStatement(other, "jwe"), statement);
  EXPECT_NE(SecretShareStatement(s, "jwe2"), statement);
  EXPECT_NE(SecretsInboxFor("box-a"), SecretShareInboxFor("box-a", 1));
}

TEST(PairingJson, NodeRecordCarriesTheEncryptionKeyAndPairings) {
  NodeRecord n;
  n.id = "box-a";
  n.x25519_pub_key_b64 = kKeyA;
  n.x25519_key_created_ms = 42;
  n.x25519_key_sig_b64 = "c2ln";
  n.paired_with = {"box-b", "box-c"};
  n.pairings_updated_ms = 43;
  auto back = NodeRecordFromJson(json::value(ToJson(n)));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->x25519_pub_key_b64, kKeyA);
  EXPECT_EQ(back->x25519_key_created_ms, 42);
  EXPECT_EQ(back->x25519_key_sig_b64, "c2ln");
  EXPECT_EQ(back->paired_with, n.paired_with);
  EXPECT_EQ(back->pairings_updated_ms, 43);
}

}  // namespace
}  // namespace populi::mesh
