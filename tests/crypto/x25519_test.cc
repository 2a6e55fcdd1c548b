// X25519 against RFC 7748's published vectors (§5.2 single and iterated, §6.1 Diffie-Hellman),
// and refusal of low-order peer keys.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "crypto/x25519.h"

namespace populi::crypto {
namespace {

std::array<uint8_t, 32> FromHex32(const std::string& hex) {
  std::array<uint8_t, 32> out{};
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

std::array<uint8_t, 32> Agree(const std::string& scalar_hex, const std::string& u_hex) {
  std::array<uint8_t, 32> shared{};
  Status s = X25519SharedSecret(FromHex32(scalar_hex), FromHex32(u_hex), shared);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return shared;
}

TEST(X25519, Rfc7748Section5_2Vectors) {
  EXPECT_EQ(Agree("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
            FromHex32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"));
  EXPECT_EQ(Agree("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
            FromHex32("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"));
}

TEST(X25519, Rfc7748Section5_2IteratedVector) {
  // k = u = 9; repeatedly k, u = X25519(k, u), k.
  std::array<uint8_t, 32> k{9};
  std::array<uint8_t, 32> u{9};
  for (int i = 1; i <= 1000; ++i) {
    std::array<uint8_t, 32> next{};
    ASSERT_TRUE(X25519SharedSecret(k, u, next).ok());
    u = k;
    k = next;
    if (i == 1) {
      EXPECT_EQ(k, FromHex32("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"));
    }
  }
  EXPECT_EQ(k, FromHex32("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"));
}

TEST(X25519, Rfc7748Section6_1DiffieHellman) {
  auto alice = X25519FromSecret(
      FromHex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  auto bob = X25519FromSecret(
      FromHex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  ASSERT_TRUE(alice.ok() && bob.ok());
  EXPECT_EQ(alice->public_key,
            FromHex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
  EXPECT_EQ(bob->public_key,
            FromHex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
  const auto expected =
      FromHex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  std::array<uint8_t, 32> k1{};
  std::array<uint8_t, 32> k2{};
  ASSERT_TRUE(X25519SharedSecret(alice->secret_key, bob->public_key, k1).ok());
  ASSERT_TRUE(X25519SharedSecret(bob->secret_key, alice->public_key, k2).ok());
  EXPECT_EQ(k1, expected);
  EXPECT_EQ(k2, expected);
}

TEST(X25519, GeneratedPairsAgreeAndDiffer) {
  auto a = GenerateX25519();
  auto b = GenerateX25519();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->secret_key, b->secret_key);
  auto again = X25519FromSecret(a->secret_key);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key, a->public_key);
  std::array<uint8_t, 32> ab{};
  std::array<uint8_t, 32> ba{};
  ASSERT_TRUE(X25519SharedSecret(a->secret_key, b->public_key, ab).ok());
  ASSERT_TRUE(X25519SharedSecret(b->secret_key, a->public_key, ba).ok());
  EXPECT_EQ(ab, ba);
  WipeSecret(*a);
  EXPECT_EQ(a->secret_key, (std::array<uint8_t, 32>{}));
}

TEST(X25519, LowOrderPeerKeysAreRefused) {
  auto keys = GenerateX25519();
  ASSERT_TRUE(keys.ok());
  // u = 0, u = 1, and a point of order 8.
  for (const std::string& hex :
       {std::string(64, '0'), "01" + std::string(62, '0'),
        std::string("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")}) {
    std::array<uint8_t, 32> shared{};
    shared.fill(0xAA);
    Status s = X25519SharedSecret(keys->secret_key, FromHex32(hex), shared);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << hex;
    EXPECT_EQ(shared, (std::array<uint8_t, 32>{})) << "shared secret not wiped for " << hex;
  }
}

}  // namespace
}  // namespace populi::crypto
