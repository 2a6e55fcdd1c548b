#include "mesh/validate.h"

#include <gtest/gtest.h>

#include <string>

namespace populi::mesh {
namespace {

NewMessage Valid() {
  NewMessage m;
  m.sender = "sub-1";
  m.receiver = "node-1";
  m.message_type = "task_submit";
  m.payload = "{}";
  return m;
}

TEST(MeshValidate, Ids) {
  EXPECT_TRUE(ValidateId("id", "node-1.a:b_c").ok());
  EXPECT_FALSE(ValidateId("id", "").ok());
  EXPECT_FALSE(ValidateId("id", "has space").ok());
  EXPECT_FALSE(ValidateId("id", "slash/").ok());
  EXPECT_FALSE(ValidateId("id", std::string(129, 'a')).ok());
  EXPECT_TRUE(ValidateId("id", std::string(128, 'a')).ok());
  auto s = ValidateId("receiver", "??");
  EXPECT_NE(s.message().find("receiver"), std::string::npos);
  EXPECT_FALSE(s.hint().empty());
}

TEST(MeshValidate, ClosedVocabularies) {
  for (auto t : MessageTypes()) EXPECT_TRUE(ValidateMessageType(t).ok()) << t;
  EXPECT_FALSE(ValidateMessageType("task_submitt").ok());
  EXPECT_FALSE(ValidateMessageType("").ok());
  for (auto k : TaskKinds()) EXPECT_TRUE(ValidateTaskKind(k).ok()) << k;
  EXPECT_TRUE(ValidateTaskKind("").ok());
  EXPECT_FALSE(ValidateTaskKind("train_q_lo_r_a").ok());
  auto s = ValidateTaskKind("nope");
  EXPECT_NE(s.hint().find("text_infer"), std::string::npos);
}

TEST(MeshValidate, PriorityBands) {
  EXPECT_EQ(PriorityBand(0), "background");
  EXPECT_EQ(PriorityBand(64), "low");
  EXPECT_EQ(PriorityBand(128), "normal");
  EXPECT_EQ(PriorityBand(129), "high");
  EXPECT_EQ(PriorityBand(192), "urgent");
  EXPECT_EQ(PriorityBand(255), "control");
}

TEST(MeshValidate, Traceparent) {
  EXPECT_TRUE(ValidateTraceparent("").ok());
  EXPECT_TRUE(ValidateTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").ok());
  EXPECT_FALSE(ValidateTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").ok());
  EXPECT_FALSE(ValidateTraceparent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01").ok());
  EXPECT_FALSE(ValidateTraceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01").ok());
  EXPECT_FALSE(ValidateTraceparent("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01").ok());
  EXPECT_FALSE(ValidateTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331").ok());
}

TEST(MeshValidate, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
  NewMessage m = Valid();
  m.payload = "bad \xff";
  auto s = ValidateNewMessage(m);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("UTF-8"), std::string::npos);
}

TEST(MeshValidate, DigestAndSignatureShapes) {
  const std::string digest(64, 'a');
  const std::string sig = std::string(86, 'A') + "==";
  EXPECT_TRUE(ValidateSignatureShape("", "").ok());
  EXPECT_TRUE(ValidateSignatureShape(digest, "").ok());
  EXPECT_TRUE(ValidateSignatureShape(digest, sig).ok());
  EXPECT_FALSE(ValidateSignatureShape("", sig).ok());
  EXPECT_FALSE(ValidateSignatureShape(std::string(63, 'a'), "").ok());
  EXPECT_FALSE(ValidateSignatureShape(std::string(64, 'A'), "").ok());
  EXPECT_FALSE(ValidateSignatureShape(digest, std::string(88, 'A')).ok());
  EXPECT_FALSE(ValidateSignatureShape(digest, std::string(85, 'A') + "*==").ok());
}

TEST(MeshValidate, MessageLimits) {
  EXPECT_TRUE(ValidateNewMessage(Valid()).ok());
  NewMessage big = Valid();
  Limits limits;
  limits.max_payload_bytes = 10;
  big.payload = std::string(11, 'x');
  EXPECT_EQ(ValidateNewMessage(big, limits).code(), Code::kTooLarge);
  NewMessage kind = Valid();
  kind.task_kind = "bogus";
  EXPECT_FALSE(ValidateNewMessage(kind).ok());
  NewMessage type = Valid();
  type.message_type = "whatever";
  EXPECT_FALSE(ValidateNewMessage(type).ok());
  NewMessage receiver = Valid();
  receiver.receiver = "";
  EXPECT_FALSE(ValidateNewMessage(receiver).ok());
}

TEST(MeshValidate, ScopeKeysAndLeaseIds) {
  EXPECT_TRUE(ValidateScopeKey("task:1").ok());
  EXPECT_FALSE(ValidateScopeKey("").ok());
  EXPECT_EQ(ValidateScopeKey(std::string(2049, 'k')).code(), Code::kTooLarge);
  EXPECT_TRUE(ValidateScopeKey(std::string(2048, 'k')).ok());
  EXPECT_FALSE(ValidateScopeKey("a\nb").ok());
  EXPECT_TRUE(ValidateLeaseId("0123456789abcdef0123456789abcdef").ok());
  EXPECT_FALSE(ValidateLeaseId("0123456789ABCDEF0123456789abcdef").ok());
  EXPECT_FALSE(ValidateLeaseId("abc").ok());
}

TEST(MeshValidate, NodeRecords) {
  NodeRecord n;
  n.id = "node-1";
  EXPECT_TRUE(ValidateNodeRecord(n).ok());
  n.scope_id = "bad scope";
  EXPECT_FALSE(ValidateNodeRecord(n).ok());
  n.scope_id = "";
  n.labels[""] = "x";
  EXPECT_FALSE(ValidateNodeRecord(n).ok());
  n.labels.clear();
  n.gpus.resize(65);
  EXPECT_EQ(ValidateNodeRecord(n).code(), Code::kTooLarge);
}

}  // namespace
}  // namespace populi::mesh
