// Pairing codes: their shape, normalisation of what a person types, and the HMAC proof.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "crypto/pairing_code.h"

namespace populi::crypto {
namespace {

TEST(PairingCode, NewCodesAreTenCrockfordCharactersInTwoGroups) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string code = NewPairingCode();
    EXPECT_TRUE(std::regex_match(code, std::regex("[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")))
        << code;
    auto normal = NormalizePairingCode(code);
    ASSERT_TRUE(normal.ok()) << normal.status().ToString();
    EXPECT_EQ(*normal, code.substr(0, 5) + code.substr(6));
    seen.insert(code);
  }
  EXPECT_EQ(seen.size(), 200u);  // 50 random bits each
}

TEST(PairingCode, NormalisationAcceptsWhatPeopleType) {
  for (const char* typed :
       {"7Q2KX-M4D9H", "7q2kx-m4d9h", "7Q2KXM4D9H", " 7q2kx m4d9h ", "7-Q-2-K-X-M-4-D-9-H"}) {
    auto n = NormalizePairingCode(typed);
    ASSERT_TRUE(n.ok()) << typed << ": " << n.status().ToString();
    EXPECT_EQ(*n, "7Q2KXM4D9H") << typed;
  }
  auto confusable = NormalizePairingCode("oOiIl-L0123");
  ASSERT_TRUE(confusable.ok()) << confusable.status().ToString();
  EXPECT_EQ(*confusable, "0011110123");
}

TEST(PairingCode, NormalisationRefusesWrongLengthOrCharacter) {
  for (const char* typed : {"", "7Q2KX-M4D9", "7Q2KX-M4D9HH", "-----"}) {
    auto n = NormalizePairingCode(typed);
    EXPECT_EQ(n.status().code(), Code::kInvalidArgument) << typed;
    EXPECT_FALSE(n.status().hint().empty());
  }
  for (const char* typed :
       {"7Q2KX-M4D9U", "7Q2KX_M4D9H", "7Q2KX-M4D9!", "7Q2KX\tM4D9H", "7Q2KX-M4D9\xC3\xA9"}) {
    auto n = NormalizePairingCode(typed);
    EXPECT_EQ(n.status().code(), Code::kInvalidArgument) << typed;
    EXPECT_NE(n.status().message().find("position"), std::string::npos) << n.status().message();
  }
}

TEST(PairingProof, VerifiesOnlyTheSameCodeAndTranscript) {
  const std::string code = "7Q2KXM4D9H";
  const std::string transcript = "populi-pair-v1|node-a|node-b|keys…";
  const std::string proof = PairingProof(code, transcript);
  EXPECT_EQ(proof.size(), 43u);  // 32 bytes, unpadded base64url
  EXPECT_EQ(proof, PairingProof(code, transcript));
  EXPECT_TRUE(VerifyPairingProof(code, transcript, proof));
  EXPECT_FALSE(VerifyPairingProof("7Q2KXM4D9J", transcript, proof));
  EXPECT_FALSE(VerifyPairingProof(code, transcript + ".", proof));
  std::string flipped = proof;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPairingProof(code, transcript, flipped));
  EXPECT_FALSE(VerifyPairingProof(code, transcript, proof.substr(0, 42)));
  EXPECT_FALSE(VerifyPairingProof(code, transcript, proof + "A"));
  EXPECT_FALSE(VerifyPairingProof(code, transcript, ""));
  EXPECT_FALSE(VerifyPairingProof(code, transcript, "not base64url!"));
}

TEST(PairingProof, IsHmacSha256OfTheTranscript) {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  EXPECT_EQ(PairingProof("Jefe", "what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
}

}  // namespace
}  // namespace populi::crypto
