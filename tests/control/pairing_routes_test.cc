// The pairing relay: offers stored and read back, one answer (or one burn) per offer, limits,
// and the audit entries of the relay and of secret deliveries.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "control/fixture.h"
#include "mesh/pairing_json.h"

namespace populi::control::testing {
namespace {

namespace json = boost::json;

const std::string kKeyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string kKeyB = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

json::object Keys(const std::string& node) {
  return {{"node_id", node},
          {"ed25519_pub_key_b64", kKeyA},
          {"x25519_pub_key_b64", kKeyB},
          {"x25519_key_created_ms", 5}};
}

json::object Offer(const std::string& from, const std::string& to) {
  return {{"to_node", to}, {"from", Keys(from)}, {"proof", "cHJvb2Y"}};
}

class PairingRoutesTest : public ApiFixture {
 protected:
  std::vector<std::string> AuditKinds() {
    EXPECT_TRUE(store_->Write([](store::WriteTxn&) { return Status::Ok(); }).ok());
    std::vector<std::string> kinds;
    auto page = store_->ListAudit(0, 10000);
    if (page.ok()) {
      for (const auto& e : page->entries) kinds.push_back(e.kind);
    }
    return kinds;
  }
};

TEST_F(PairingRoutesTest, AnOfferIsReadBackAnsweredOnceAndDropped) {
  Reply offered = Post("/v1/populi/pairings", Offer("box-a", "box-b"));
  ASSERT_EQ(offered.status, 201) << offered.raw.body;
  Reply got = Get("/v1/populi/pairings/box-b/box-a");
  ASSERT_EQ(got.status, 200) << got.raw.body;
  auto pairing = mesh::PairingFromJson(got.body);
  ASSERT_TRUE(pairing.ok()) << pairing.status().message();
  EXPECT_EQ(pairing->state, mesh::PairingState::kOffered);
  EXPECT_EQ(pairing->offer.from.node_id, "box-a");
  EXPECT_GT(pairing->expires_ms, pairing->created_ms);
  // The other direction is another pairing.
  EXPECT_EQ(Get("/v1/populi/pairings/box-a/box-b").status, 404);

  Reply answered = Post("/v1/populi/pairings/box-b/box-a/answer",
                        json::object{{"to", Keys("box-b")}, {"proof", "YW5zd2Vy"}});
  ASSERT_EQ(answered.status, 200) << answered.raw.body;
  auto after = mesh::PairingFromJson(Get("/v1/populi/pairings/box-b/box-a").body);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, mesh::PairingState::kAnswered);
  EXPECT_EQ(after->answer.to.node_id, "box-b");
  EXPECT_EQ(after->answer.proof, "YW5zd2Vy");
  // One answer per offer: a second (or a burn after it) is a conflict.
  Reply again = Post("/v1/populi/pairings/box-b/box-a/answer",
                     json::object{{"to", Keys("box-b")}, {"proof", "eA"}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(ErrorCode(again), "conflict");
  EXPECT_EQ(Call(http::Method::kDelete, "/v1/populi/pairings/box-b/box-a").status, 204);
  EXPECT_EQ(Get("/v1/populi/pairings/box-b/box-a").status, 404);
  EXPECT_EQ(AuditKinds(), (std::vector<std::string>{"pairing.offered", "pairing.answered"}));
}

TEST_F(PairingRoutesTest, AWrongCodeBurnsTheOfferAndAnAnswerFromAnotherNodeIsRefused) {
  ASSERT_EQ(Post("/v1/populi/pairings", Offer("box-a", "box-b")).status, 201);
  Reply impostor = Post("/v1/populi/pairings/box-b/box-a/answer",
                        json::object{{"to", Keys("box-c")}, {"proof", "eA"}});
  EXPECT_EQ(impostor.status, 400);
  ASSERT_EQ(Post("/v1/populi/pairings/box-b/box-a/answer", json::object{{"burn", true}}).status,
            200);
  auto burned = mesh::PairingFromJson(Get("/v1/populi/pairings/box-b/box-a").body);
  ASSERT_TRUE(burned.ok());
  EXPECT_EQ(burned->state, mesh::PairingState::kBurned);
  EXPECT_EQ(Post("/v1/populi/pairings/box-b/box-a/answer",
                 json::object{{"to", Keys("box-b")}, {"proof", "eA"}})
                .status,
            409);
  // A fresh offer replaces the burned one.
  ASSERT_EQ(Post("/v1/populi/pairings", Offer("box-a", "box-b")).status, 201);
  EXPECT_EQ(mesh::PairingFromJson(Get("/v1/populi/pairings/box-b/box-a").body)->state,
            mesh::PairingState::kOffered);
}

TEST_F(PairingRoutesTest, BadOffersAreRefusedAndOffersAreLimitedPerTarget) {
  json::object bad_key = Offer("box-a", "box-b");
  bad_key["from"].as_object()["x25519_pub_key_b64"] = "AAEC";
  Reply r = Post("/v1/populi/pairings", bad_key);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.raw.body.find("from.x25519_pub_key_b64"), std::string::npos) << r.raw.body;
  EXPECT_EQ(Post("/v1/populi/pairings", Offer("box-a", "box-a")).status, 400);
  EXPECT_EQ(Post("/v1/populi/pairings/box-b/box-a/answer", json::object{{"burn", true}}).status,
            404);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Post("/v1/populi/pairings", Offer("n-" + std::to_string(i), "box-z")).status, 201);
  }
  Reply limited = Post("/v1/populi/pairings", Offer("n-11", "box-z"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(ErrorCode(limited), "resource_exhausted");
}

TEST_F(PairingRoutesTest, SecretRequestsAndSharesAreAuditedWithoutTheirContent) {
  Join("box-a");
  Deliver("secrets:box-a", {{"message_type", "secret_request"},
                            {"sender", "box-b"},
                            {"payload", "{\"task_id\":\"t-1\"}"}});
  Deliver("secret-share:t-1.1",
          {{"message_type", "secret_share"}, {"sender", "box-a"}, {"jwe_payload", "a.b.c.d.e"}});
  Deliver("someone", {{"message_type", "agent_message"}});
  EXPECT_EQ(AuditKinds(), (std::vector<std::string>{"secret.requested", "secret.shared"}));
  auto page = store_->ListAudit(0, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries[1].data_json.find("a.b.c.d.e"), std::string::npos);
  EXPECT_NE(page->entries[1].data_json.find("\"sealed\":true"), std::string::npos);
}

TEST_F(PairingRoutesTest, KeyPublicationRotationAndPairingChangesInARecordAreAudited) {
  Join("box-a", {{"x25519_pub_key_b64", kKeyA}, {"x25519_key_created_ms", 1}});
  Join("box-a", {{"x25519_pub_key_b64", kKeyA}, {"x25519_key_created_ms", 1}});  // unchanged
  Join("box-a", {{"x25519_pub_key_b64", kKeyB},
                 {"x25519_key_created_ms", 2},
                 {"paired_with", json::array{"box-b", "box-c"}}});
  Join("box-a", {{"x25519_pub_key_b64", kKeyB},
                 {"x25519_key_created_ms", 2},
                 {"paired_with", json::array{"box-c"}}});
  EXPECT_EQ(AuditKinds(), (std::vector<std::string>{"node.key_published", "node.key_rotated",
                                                    "pairing.paired", "pairing.unpaired"}));
  auto page = store_->ListAudit(0, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 4u);
  EXPECT_EQ(page->entries[2].subject, "box-a");
  EXPECT_NE(page->entries[2].data_json.find("box-b"), std::string::npos);
  EXPECT_NE(page->entries[3].data_json.find("box-b"), std::string::npos);
  EXPECT_EQ(page->entries[3].data_json.find("box-c"), std::string::npos);
}

}  // namespace
}  // namespace populi::control::testing
