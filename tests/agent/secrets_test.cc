// A node's secret material on disk (keyring, secret store) and the sealing of one attempt's
// secrets (agent/envelope.h): what opens, and every way a share must fail to open.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/envelope.h"
#include "agent/keyring.h"
#include "agent/secret_store.h"
#include "crypto/ed25519.h"
#include "util/random.h"

namespace populi::agent {
namespace {

namespace fs = std::filesystem;

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("populi-secrets-" + RandomHex(6))).string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static unsigned Mode(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_mode & 0777;
  }

  std::string dir_;
};

TEST_F(SecretsTest, SecretsAreStoredPrivatelyListedWithoutValuesAndRemoved) {
  ASSERT_TRUE(SetSecret(dir_, "HF_TOKEN", "hf-value-123", 1000).ok());
  ASSERT_TRUE(SetSecret(dir_, "DB_URL", "postgres://x", 2000).ok());
  EXPECT_EQ(Mode(SecretsPath(dir_)), 0600u);
  auto list = ListSecrets(dir_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "DB_URL");
  EXPECT_EQ((*list)[1].name, "HF_TOKEN");
  EXPECT_EQ((*list)[1].bytes, 12u);
  EXPECT_EQ((*list)[1].updated_ms, 1000);
  auto values = ReadSecrets(dir_, {"HF_TOKEN"});
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(values->at("HF_TOKEN"), "hf-value-123");
  auto missing = ReadSecrets(dir_, {"HF_TOKEN", "NOPE"});
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("NOPE"), std::string::npos);
  auto removed = RemoveSecret(dir_, "HF_TOKEN");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(*RemoveSecret(dir_, "HF_TOKEN"));
  EXPECT_EQ(ListSecrets(dir_)->size(), 1u);
  // The value is not kept anywhere in the file once removed.
  EXPECT_EQ(ReadAll(SecretsPath(dir_)).find("hf-value"), std::string::npos);
}

TEST_F(SecretsTest, BadNamesAndValuesAreRefusedAndAWorldReadableFileIsNotRead) {
  for (const char* bad : {"", "1ABC", "A-B", "A B", "x=y"}) {
    EXPECT_EQ(SetSecret(dir_, bad, "v", 1).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(SetSecret(dir_, "EMPTY", "", 1).code(), Code::kInvalidArgument);
  EXPECT_EQ(SetSecret(dir_, "BIG", std::string(64 * 1024 + 1, 'x'), 1).code(), Code::kTooLarge);
  ASSERT_TRUE(SetSecret(dir_, "OK_1", "v", 1).ok());
  ::chmod(SecretsPath(dir_).c_str(), 0644);
  auto read = ReadSecrets(dir_, {"OK_1"});
  EXPECT_EQ(read.status().code(), Code::kPermissionDenied);
  EXPECT_NE(read.status().hint().find("chmod 600"), std::string::npos);
}

TEST_F(SecretsTest, EncryptionKeysPersistAndRotationKeepsThePreviousKey) {
  auto first = LoadOrCreateEncryptionKeys(dir_, 1000);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Mode(EncryptionKeysPath(dir_)), 0600u);
  auto again = LoadOrCreateEncryptionKeys(dir_, 5000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->current.public_key, first->current.public_key);
  EXPECT_EQ(again->created_ms, 1000);
  EXPECT_FALSE(again->previous.has_value());
  auto rotated = RotateEncryptionKeys(dir_, 9000);
  ASSERT_TRUE(rotated.ok());
  EXPECT_NE(rotated->current.public_key, first->current.public_key);
  ASSERT_TRUE(rotated->previous.has_value());
  EXPECT_EQ(rotated->previous->public_key, first->current.public_key);
  EXPECT_EQ(rotated->previous_retired_ms, 9000);
  EXPECT_EQ(LoadOrCreateEncryptionKeys(dir_, 9500)->current.public_key,
            rotated->current.public_key);
  std::ofstream(EncryptionKeysPath(dir_)) << "{\"x25519_secret_b64\": 7}";
  ::chmod(EncryptionKeysPath(dir_).c_str(), 0600);
  auto corrupt = LoadOrCreateEncryptionKeys(dir_, 1);
  EXPECT_EQ(corrupt.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(corrupt.status().message().find("x25519_secret_b64"), std::string::npos);
}

TEST_F(SecretsTest, PairingsArePutReplacedAndRemoved) {
  PairedPeer b{"box-b", "ed", "x1", 10, 20, "11111 22222", false};
  ASSERT_TRUE(PutPairing(dir_, b).ok());
  b.x25519_pub_key_b64 = "x2";
  ASSERT_TRUE(PutPairing(dir_, b).ok());
  ASSERT_TRUE(PutPairing(dir_, {"box-a", "ed", "xa", 1, 2, "", false}).ok());
  auto peers = LoadPairings(dir_);
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ((*peers)[0].node_id, "box-a");
  EXPECT_EQ((*peers)[1].x25519_pub_key_b64, "x2");
  EXPECT_EQ((*peers)[1].safety_number, "11111 22222");
  EXPECT_EQ(Mode(PairingsPath(dir_)), 0600u);
  EXPECT_TRUE(*RemovePairing(dir_, "box-b"));
  EXPECT_FALSE(*RemovePairing(dir_, "box-b"));
  EXPECT_EQ(LoadPairings(dir_)->size(), 1u);
}

TEST_F(SecretsTest, DeclaredPeersAreParsedAndWinOverStoredPairings) {
  const std::string ed = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const std::string x = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
  auto declared = ParseDeclaredPeers({"gpu-box:" + ed + ":" + x, "rack:1:" + ed + ":" + x});
  ASSERT_TRUE(declared.ok()) << declared.status().message();
  ASSERT_EQ(declared->size(), 2u);
  EXPECT_EQ((*declared)[1].node_id, "rack:1");  // ids may hold ':'; the keys are the last fields
  EXPECT_EQ((*declared)[0].x25519_pub_key_b64, x);
  EXPECT_TRUE((*declared)[0].declared);
  for (const std::string& bad : {std::string("gpu-box"), "gpu-box:" + ed, "gpu-box:" + ed + ":AAEC",
                                 ":" + ed + ":" + x, "bad id:" + ed + ":" + x}) {
    auto refused = ParseDeclaredPeers({bad});
    EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(refused.status().message().find("mesh.peers.declared"), std::string::npos);
  }
  ASSERT_TRUE(PutPairing(dir_, {"gpu-box", "stored-ed", "stored-x", 1, 2, "", false}).ok());
  ASSERT_TRUE(PutPairing(dir_, {"laptop", "ed", "x", 1, 2, "", false}).ok());
  auto peers = LoadPeers(dir_, *declared);
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 3u);
  EXPECT_EQ((*peers)[0].node_id, "gpu-box");
  EXPECT_EQ((*peers)[0].x25519_pub_key_b64, x);
  EXPECT_TRUE((*peers)[0].declared);
  EXPECT_EQ((*peers)[1].node_id, "laptop");
  // Configuration only: the file keeps what pairing stored.
  EXPECT_EQ(LoadPairings(dir_)->at(0).x25519_pub_key_b64, "stored-x");
}

// Box A seals for box B; B opens. Each party's keys are real.
class EnvelopeTest : public SecretsTest {
 protected:
  void SetUp() override {
    SecretsTest::SetUp();
    a_signing_ = *crypto::GenerateEd25519();
    b_keys_ = *LoadOrCreateEncryptionKeys(dir_ + "/b", 1000);
    b_as_seen_by_a_ = {
        "box-b", "unused-here", crypto::Base64(b_keys_.current.public_key.data(), 32), 1000, 1,
        "",      false};
    a_as_seen_by_b_ = {
        "box-a", crypto::Base64(a_signing_.public_key.data(), 32), "unused", 1, 1, "", false};
    request_ = {"t-1", 2, 7, "box-b", {"HF_TOKEN"}, mesh::SecretShareInboxFor("t-1", 2)};
    expected_ = {"t-1", 2, 7, "box-b", {"HF_TOKEN"}};
  }
  SealedShare Seal() {
    auto s =
        SealShare(request_, "box-a", b_as_seen_by_a_, {{"HF_TOKEN", "hf-value-123"}}, a_signing_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return *s;
  }
  Result<std::map<std::string, std::string>> Open(const SealedShare& s, int64_t now = 2000,
                                                  int64_t grace = 60'000) {
    return OpenShare(s.share, s.jwe, expected_, a_as_seen_by_b_, b_keys_, now, grace);
  }

  crypto::Ed25519KeyPair a_signing_;
  EncryptionKeys b_keys_;
  PairedPeer b_as_seen_by_a_, a_as_seen_by_b_;
  mesh::SecretRequest request_;
  ExpectedShare expected_;
};

TEST_F(EnvelopeTest, TheAttemptItWasSealedForOpensIt) {
  SealedShare s = Seal();
  EXPECT_EQ(s.jwe.find("hf-value"), std::string::npos);
  auto values = Open(s);
  ASSERT_TRUE(values.ok()) << values.status().message();
  EXPECT_EQ(values->at("HF_TOKEN"), "hf-value-123");
}

TEST_F(EnvelopeTest, ATamperedEnvelopeIsRefused) {
  SealedShare s = Seal();
  std::string& jwe = s.jwe;
  const size_t last_dot = jwe.rfind('.');
  jwe[last_dot - 3] = jwe[last_dot - 3] == 'A' ? 'B' : 'A';  // ciphertext
  auto values = Open(s);
  EXPECT_FALSE(values.ok());
  EXPECT_EQ(values.status().code(), Code::kPermissionDenied);  // the signature no longer holds
}

TEST_F(EnvelopeTest, AShareForAnotherAttemptTokenOrNodeIsRefused) {
  SealedShare s = Seal();
  expected_.attempt = 3;  // a replay to the next attempt
  EXPECT_EQ(Open(s).status().code(), Code::kPermissionDenied);
  expected_ = {"t-1", 2, 8, "box-b", {"HF_TOKEN"}};  // after a re-grant
  EXPECT_EQ(Open(s).status().code(), Code::kPermissionDenied);
  expected_ = {"t-2", 2, 7, "box-b", {"HF_TOKEN"}};
  EXPECT_EQ(Open(s).status().code(), Code::kPermissionDenied);
  // Relabelled share (the relay edits the attempt): the signature covers it.
  expected_ = {"t-1", 3, 7, "box-b", {"HF_TOKEN"}};
  s.share.attempt = 3;
  auto relabelled = Open(s);
  EXPECT_EQ(relabelled.status().code(), Code::kPermissionDenied);
  EXPECT_NE(relabelled.status().message().find("signature"), std::string::npos);
}

TEST_F(EnvelopeTest, AShareSignedByAnotherNodeOrSealedToAnotherKeyIsRefused) {
  auto mallory = *crypto::GenerateEd25519();
  auto forged = SealShare(request_, "box-a", b_as_seen_by_a_, {{"HF_TOKEN", "x"}}, mallory);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(Open(*forged).status().code(), Code::kPermissionDenied);
  // Sealed (and signed by A) to a key B does not hold: the relay handed A the wrong key.
  auto other = *LoadOrCreateEncryptionKeys(dir_ + "/other", 1);
  PairedPeer wrong = b_as_seen_by_a_;
  wrong.x25519_pub_key_b64 = crypto::Base64(other.current.public_key.data(), 32);
  auto misdirected = SealShare(request_, "box-a", wrong, {{"HF_TOKEN", "x"}}, a_signing_);
  ASSERT_TRUE(misdirected.ok());
  EXPECT_EQ(Open(*misdirected).status().code(), Code::kPermissionDenied);
}

TEST_F(EnvelopeTest, ARefusalCarriesTheSubmittersReason) {
  SealedShare refused = RefuseShare(request_, "box-a", "not paired with box-b", a_signing_);
  auto opened = Open(refused);
  EXPECT_EQ(opened.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find("not paired with box-b"), std::string::npos);
}

TEST_F(EnvelopeTest, AfterRotationTheOldKeyOpensOnlyWithinTheGrace) {
  SealedShare s = Seal();  // sealed to B's first key
  b_keys_ = *RotateEncryptionKeys(dir_ + "/b", 5000);
  auto within = Open(s, 5000 + 1000, 60'000);
  ASSERT_TRUE(within.ok()) << within.status().message();
  EXPECT_EQ(within->at("HF_TOKEN"), "hf-value-123");
  auto after = Open(s, 5000 + 60'000, 60'000);
  EXPECT_EQ(after.status().code(), Code::kPermissionDenied);
  // A new envelope to the new key opens.
  b_as_seen_by_a_.x25519_pub_key_b64 = crypto::Base64(b_keys_.current.public_key.data(), 32);
  EXPECT_TRUE(Open(Seal(), 5000 + 60'000, 60'000).ok());
}

}  // namespace
}  // namespace populi::agent
