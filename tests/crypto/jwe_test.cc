// The JWE envelope (crypto/jwe.h): round trips, its exact shape, and every refusal on decrypt.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/base64url.h"
#include "crypto/fingerprint.h"
#include "crypto/jwe.h"

namespace populi::crypto {
namespace {

std::string JweStr(const boost::json::value& v) {
  return std::string(v.as_string());
}

std::vector<std::string> Split(const std::string& compact) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = compact.find('.', start)) != std::string::npos; start = dot + 1)
    parts.push_back(compact.substr(start, dot - start));
  parts.push_back(compact.substr(start));
  return parts;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "." : "") + parts[i];
  return out;
}

boost::json::object HeaderOf(const std::string& compact) {
  auto json = FromBase64Url(Split(compact)[0]);
  EXPECT_TRUE(json.ok());
  return boost::json::parse(*json).as_object();
}

// The envelope with its protected header replaced by `header` (the rest unchanged).
std::string WithHeader(const std::string& compact, const boost::json::object& header) {
  auto parts = Split(compact);
  parts[0] = Base64Url(boost::json::serialize(header));
  return Join(parts);
}

// Flips one bit of the decoded bytes of part `index`.
std::string FlipBit(const std::string& compact, size_t index, size_t byte = 0) {
  auto parts = Split(compact);
  auto bytes = FromBase64Url(parts[index]);
  EXPECT_TRUE(bytes.ok() && bytes->size() > byte);
  (*bytes)[byte] = static_cast<char>((*bytes)[byte] ^ 1);
  parts[index] = Base64Url(*bytes);
  return Join(parts);
}

class Jwe : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = GenerateX25519();
    auto b = GenerateX25519();
    ASSERT_TRUE(a.ok() && b.ok());
    alice_ = *a;
    bob_ = *b;
    claims_.extra["typ"] = "populi-secret";
    claims_.extra["secret_name"] = "db-password";
    auto sealed = JweEncrypt(alice_.public_key, claims_, plaintext_);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    sealed_ = *sealed;
  }

  // Decrypts `compact` for alice, expecting the error `code`; returns its message.
  std::string Refusal(const std::string& compact, Code code, const X25519KeyPair* keys = nullptr) {
    auto opened = JweDecrypt(keys ? *keys : alice_, compact);
    EXPECT_FALSE(opened.ok());
    if (opened.ok()) return "";
    EXPECT_EQ(opened.status().code(), code) << opened.status().ToString();
    EXPECT_FALSE(opened.status().hint().empty());
    const std::string& msg = opened.status().message();
    EXPECT_EQ(msg.find(plaintext_), std::string::npos);
    EXPECT_EQ(msg.find(Split(sealed_)[3]), std::string::npos);
    return msg;
  }

  X25519KeyPair alice_;
  X25519KeyPair bob_;
  JweHeaderClaims claims_;
  const std::string plaintext_ = "s3cret: 64 bytes of a database password, not to be seen again!";
  std::string sealed_;
};

TEST_F(Jwe, RoundTripKeepsPlaintextAndClaims) {
  auto opened = JweDecrypt(alice_, sealed_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->plaintext, plaintext_);
  EXPECT_EQ(opened->claims.kid, KeyFingerprint(alice_.public_key));
  EXPECT_EQ(opened->claims.extra, claims_.extra);
  for (const std::string& text :
       {std::string(), std::string("\0\x01\xff binary", 10), std::string(100000, 'x')}) {
    auto sealed = JweEncrypt(bob_.public_key, {}, text);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    auto back = JweDecrypt(bob_, *sealed);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->plaintext, text);
    EXPECT_TRUE(back->claims.extra.empty());
  }
}

TEST_F(Jwe, CompactShapeAndProtectedHeader) {
  const auto parts = Split(sealed_);
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_TRUE(parts[1].empty());
  EXPECT_EQ(FromBase64Url(parts[2])->size(), 12u);
  EXPECT_EQ(FromBase64Url(parts[3])->size(), plaintext_.size());
  EXPECT_EQ(FromBase64Url(parts[4])->size(), 16u);
  const boost::json::object h = HeaderOf(sealed_);
  EXPECT_EQ(h.size(), 6u) << boost::json::serialize(h);
  EXPECT_EQ(JweStr(h.at("alg")), "ECDH-ES");
  EXPECT_EQ(JweStr(h.at("enc")), "A256GCM");
  EXPECT_EQ(JweStr(h.at("kid")), KeyFingerprint(alice_.public_key));
  EXPECT_EQ(JweStr(h.at("typ")), "populi-secret");
  const auto& epk = h.at("epk").as_object();
  EXPECT_EQ(epk.size(), 3u);
  EXPECT_EQ(JweStr(epk.at("kty")), "OKP");
  EXPECT_EQ(JweStr(epk.at("crv")), "X25519");
  EXPECT_EQ(FromBase64Url(epk.at("x").as_string())->size(), 32u);
  // A fresh ephemeral key and IV every time.
  auto again = JweEncrypt(alice_.public_key, claims_, plaintext_);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(HeaderOf(*again).at("epk"), h.at("epk"));
  EXPECT_NE(Split(*again)[2], parts[2]);
}

TEST_F(Jwe, AlteredPartsFailAuthentication) {
  EXPECT_NE(Refusal(FlipBit(sealed_, 3), Code::kPermissionDenied).find("authentication"),
            std::string::npos);
  EXPECT_NE(Refusal(FlipBit(sealed_, 3, plaintext_.size() - 1), Code::kPermissionDenied)
                .find("authentication"),
            std::string::npos);
  Refusal(FlipBit(sealed_, 4), Code::kPermissionDenied);      // tag
  Refusal(FlipBit(sealed_, 4, 15), Code::kPermissionDenied);  // tag, last byte
  Refusal(FlipBit(sealed_, 2), Code::kPermissionDenied);      // IV
  // The protected header is the AAD: a changed extra member fails the tag.
  boost::json::object h = HeaderOf(sealed_);
  h["secret_name"] = "other";
  Refusal(WithHeader(sealed_, h), Code::kPermissionDenied);
  // So does the same header re-serialised with another member order.
  boost::json::object reordered;
  for (auto it = h.end(); it != h.begin();) {
    --it;
    reordered[it->key()] = it->value();
  }
  reordered["secret_name"] = "db-password";
  Refusal(WithHeader(sealed_, reordered), Code::kPermissionDenied);
  // A truncated ciphertext.
  auto parts = Split(sealed_);
  parts[3] = Base64Url(FromBase64Url(parts[3])->substr(1));
  Refusal(Join(parts), Code::kPermissionDenied);
}

TEST_F(Jwe, WrongRecipientIsRefused) {
  // Another node's key: its kid does not match.
  EXPECT_NE(Refusal(sealed_, Code::kPermissionDenied, &bob_).find("kid"), std::string::npos);
  // The right kid but the wrong secret: the tag fails.
  X25519KeyPair impostor = bob_;
  impostor.public_key = alice_.public_key;
  EXPECT_NE(Refusal(sealed_, Code::kPermissionDenied, &impostor).find("authentication"),
            std::string::npos);
}

TEST_F(Jwe, KidMismatchIsRefused) {
  boost::json::object h = HeaderOf(sealed_);
  h["kid"] = KeyFingerprint(bob_.public_key);
  EXPECT_NE(Refusal(WithHeader(sealed_, h), Code::kPermissionDenied).find("kid"),
            std::string::npos);
  h.erase("kid");
  Refusal(WithHeader(sealed_, h), Code::kInvalidArgument);
  JweHeaderClaims wrong;
  wrong.kid = KeyFingerprint(bob_.public_key);
  EXPECT_EQ(JweEncrypt(alice_.public_key, wrong, "x").status().code(), Code::kInvalidArgument);
  wrong.kid = KeyFingerprint(alice_.public_key);
  EXPECT_TRUE(JweEncrypt(alice_.public_key, wrong, "x").ok());
}

TEST_F(Jwe, LowOrderKeysAreRefused) {
  boost::json::object h = HeaderOf(sealed_);
  std::array<uint8_t, 32> zero{};
  h["epk"].as_object()["x"] = Base64Url(zero.data(), zero.size());
  EXPECT_NE(Refusal(WithHeader(sealed_, h), Code::kInvalidArgument).find("low-order"),
            std::string::npos);
  std::array<uint8_t, 32> one{1};
  h["epk"].as_object()["x"] = Base64Url(one.data(), one.size());
  Refusal(WithHeader(sealed_, h), Code::kInvalidArgument);
  EXPECT_EQ(JweEncrypt(zero, {}, "x").status().code(), Code::kInvalidArgument);
}

TEST_F(Jwe, MalformedEnvelopesAreInvalidArguments) {
  const auto parts = Split(sealed_);
  Refusal(Join({parts[0], parts[1], parts[2], parts[3]}), Code::kInvalidArgument);
  Refusal(sealed_ + ".", Code::kInvalidArgument);
  Refusal(sealed_ + ".x.y", Code::kInvalidArgument);
  Refusal("", Code::kInvalidArgument);
  EXPECT_NE(Refusal(Join({parts[0], "AAAA", parts[2], parts[3], parts[4]}), Code::kInvalidArgument)
                .find("encrypted key"),
            std::string::npos);
  for (size_t i : {0, 2, 3, 4}) {
    auto bad = parts;
    bad[i] = "!!" + bad[i];
    Refusal(Join(bad), Code::kInvalidArgument);
    bad[i] = parts[i] + "=";  // padding is not base64url
    Refusal(Join(bad), Code::kInvalidArgument);
  }
  auto short_iv = parts;
  short_iv[2] = Base64Url("0123456789a");
  EXPECT_NE(Refusal(Join(short_iv), Code::kInvalidArgument).find("IV"), std::string::npos);
  auto short_tag = parts;
  short_tag[4] = Base64Url("0123456789abcde");
  EXPECT_NE(Refusal(Join(short_tag), Code::kInvalidArgument).find("tag"), std::string::npos);
  auto not_json = parts;
  not_json[0] = Base64Url("{\"alg\":");
  Refusal(Join(not_json), Code::kInvalidArgument);
  not_json[0] = Base64Url("[]");
  Refusal(Join(not_json), Code::kInvalidArgument);
}

TEST_F(Jwe, HeaderOutsideTheProfileIsRefused) {
  const boost::json::object h = HeaderOf(sealed_);
  struct Case {
    const char* what;
    void (*edit)(boost::json::object&);
    const char* expect;  // in the message
  };
  const Case cases[] = {
      {"alg", [](boost::json::object& o) { o["alg"] = "ECDH-ES+A256KW"; }, "alg"},
      {"alg missing", [](boost::json::object& o) { o.erase("alg"); }, "alg"},
      {"enc", [](boost::json::object& o) { o["enc"] = "A128GCM"; }, "enc"},
      {"enc type", [](boost::json::object& o) { o["enc"] = 256; }, "enc"},
      {"kty", [](boost::json::object& o) { o["epk"].as_object()["kty"] = "EC"; }, "epk"},
      {"crv", [](boost::json::object& o) { o["epk"].as_object()["crv"] = "X448"; }, "epk"},
      {"x size", [](boost::json::object& o) { o["epk"].as_object()["x"] = "AAAA"; }, "epk.x"},
      {"epk d", [](boost::json::object& o) { o["epk"].as_object()["d"] = "AAAA"; }, "epk.d"},
      {"epk missing", [](boost::json::object& o) { o.erase("epk"); }, "epk"},
      {"epk type", [](boost::json::object& o) { o["epk"] = "x"; }, "epk"},
      {"zip", [](boost::json::object& o) { o["zip"] = "DEF"; }, "zip"},
      {"crit", [](boost::json::object& o) { o["crit"] = boost::json::array{"exp"}; }, "crit"},
      {"extra type", [](boost::json::object& o) { o["count"] = 3; }, "count"},
      {"apu", [](boost::json::object& o) { o["apu"] = "!"; }, "apu"},
  };
  for (const Case& c : cases) {
    boost::json::object edited = h;
    c.edit(edited);
    const std::string msg = Refusal(WithHeader(sealed_, edited), Code::kInvalidArgument);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.what << ": " << msg;
  }
}

TEST_F(Jwe, EncryptRefusesReservedOrInvalidExtraMembers) {
  for (const char* name : {"alg", "enc", "epk", "kid", "zip", "crit", "apu", "iv"}) {
    JweHeaderClaims claims;
    claims.extra[name] = "x";
    EXPECT_EQ(JweEncrypt(alice_.public_key, claims, "x").status().code(), Code::kInvalidArgument)
        << name;
  }
  JweHeaderClaims latin1;
  latin1.extra["name"] = "caf\xe9";
  EXPECT_EQ(JweEncrypt(alice_.public_key, latin1, "x").status().code(), Code::kInvalidArgument);
  JweHeaderClaims unicode;
  unicode.extra["name"] = "caf\xc3\xa9 \"quoted\"\n";
  auto sealed = JweEncrypt(alice_.public_key, unicode, "x");
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  auto opened = JweDecrypt(alice_, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->claims.extra, unicode.extra);
}

}  // namespace
}  // namespace populi::crypto
