// Concat KDF against RFC 7518 Appendix C, key fingerprints, and the pairing safety number.
#include <gtest/gtest.h>

#include <array>
#include <regex>
#include <string>

#include "crypto/base64url.h"
#include "crypto/concat_kdf.h"
#include "crypto/fingerprint.h"

namespace populi::crypto {
namespace {

TEST(ConcatKdf, Rfc7518AppendixCDerivedKey) {
  // The example's ECDH-ES agreement (P-256) output Z, enc A128GCM, apu "Alice", apv "Bob".
  const uint8_t z[] = {158, 86,  217, 29,  129, 113, 53,  211, 114, 131, 66,
                       131, 191, 132, 38,  156, 251, 49,  110, 163, 218, 128,
                       106, 72,  246, 218, 167, 121, 140, 254, 144, 196};
  std::array<uint8_t, 16> key{};
  ASSERT_TRUE(
      ConcatKdfSha256(z, sizeof(z), "A128GCM", "Alice", "Bob", key.data(), key.size()).ok());
  const std::array<uint8_t, 16> expected = {86, 170, 141, 234, 248, 35,  109, 32,
                                            92, 34,  40,  205, 113, 167, 16,  26};
  EXPECT_EQ(key, expected);
  EXPECT_EQ(Base64Url(key.data(), key.size()), "VqqN6vgjbSBcIijNcacQGg");
}

TEST(ConcatKdf, LongerOutputsRunMoreRoundsAndEveryInputMatters) {
  const uint8_t z[32] = {1, 2, 3};
  std::array<uint8_t, 48> two_rounds{};
  ASSERT_TRUE(ConcatKdfSha256(z, 32, "A256GCM", "", "", two_rounds.data(), 48).ok());
  std::array<uint8_t, 32> base{};
  ASSERT_TRUE(ConcatKdfSha256(z, 32, "A256GCM", "", "", base.data(), 32).ok());
  // keydatalen is an input: a 48-byte key does not start with the 32-byte one.
  EXPECT_NE(0, memcmp(two_rounds.data(), base.data(), 32));
  for (auto [alg, u, v] : {std::array<const char*, 3>{"A128GCM", "", ""},
                           std::array<const char*, 3>{"A256GCM", "x", ""},
                           std::array<const char*, 3>{"A256GCM", "", "x"}}) {
    std::array<uint8_t, 32> other{};
    ASSERT_TRUE(ConcatKdfSha256(z, 32, alg, u, v, other.data(), 32).ok());
    EXPECT_NE(other, base) << alg << "/" << u << "/" << v;
  }
  EXPECT_EQ(ConcatKdfSha256(z, 32, "A256GCM", "", "", base.data(), 0).code(),
            Code::kInvalidArgument);
}

TEST(KeyFingerprint, IsSha256OfTheKeyAsBase64Url) {
  // SHA-256 of the empty string: e3b0c442…b855.
  EXPECT_EQ(KeyFingerprint(nullptr, 0), "SHA256:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  std::array<uint8_t, 32> key{};
  const std::string zero = KeyFingerprint(key);
  key[31] = 1;
  EXPECT_NE(KeyFingerprint(key), zero);
  EXPECT_EQ(zero.size(), 7u + 43u);
}

PartyKeys Party(const std::string& id, uint8_t ed, uint8_t x) {
  PartyKeys p;
  p.node_id = id;
  p.ed25519_public.fill(ed);
  p.x25519_public.fill(x);
  return p;
}

TEST(PairingSafetyNumber, SymmetricAndShownAsSixGroupsOfFive) {
  const PartyKeys a = Party("node-a", 1, 2);
  const PartyKeys b = Party("node-b", 3, 4);
  const std::string ab = PairingSafetyNumber(a, b);
  EXPECT_EQ(ab, PairingSafetyNumber(b, a));
  EXPECT_TRUE(std::regex_match(ab, std::regex(R"(\d{5}( \d{5}){5})"))) << ab;
}

TEST(PairingSafetyNumber, ChangesWhenAnyOneInputChanges) {
  const PartyKeys a = Party("node-a", 1, 2);
  const PartyKeys b = Party("node-b", 3, 4);
  const std::string base = PairingSafetyNumber(a, b);
  auto changed = [&](PartyKeys a2, PartyKeys b2) {
    EXPECT_NE(PairingSafetyNumber(a2, b2), base);
    EXPECT_NE(PairingSafetyNumber(b2, a2), base);
  };
  for (int side = 0; side < 2; ++side) {
    PartyKeys p = side == 0 ? a : b;
    const PartyKeys& other = side == 0 ? b : a;
    PartyKeys id = p;
    id.node_id += "x";
    PartyKeys ed = p;
    ed.ed25519_public[31] ^= 1;
    PartyKeys x = p;
    x.x25519_public[0] ^= 0x80;
    for (const PartyKeys& q : {id, ed, x}) changed(q, other);
  }
  // The node id's length is encoded: moving a byte between the id and the key does not collide.
  PartyKeys shifted = a;
  shifted.node_id = "node-";
  EXPECT_NE(PairingSafetyNumber(shifted, b), base);
  // Swapping which key is which changes it too.
  PartyKeys swapped = a;
  std::swap(swapped.ed25519_public, swapped.x25519_public);
  EXPECT_NE(PairingSafetyNumber(swapped, b), base);
}

}  // namespace
}  // namespace populi::crypto
