#include "util/status.h"

#include <gtest/gtest.h>

#include <type_traits>

#include "mesh/types.h"

namespace populi {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd", "pass an even number");
  return x / 2;
}

Result<int> Quarter(int x) {
  POPULI_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(Status, OkAndErrorCarryCodeMessageHint) {
  EXPECT_TRUE(Status().ok());
  Status s = NotFound("node n1 is not registered", "run vox populi peers");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: node n1 is not registered (hint: run vox populi peers)");
  EXPECT_EQ(s.WithContext("leave").message(), "leave: node n1 is not registered");
  EXPECT_EQ(s.WithContext("leave").hint(), "run vox populi peers");
}

// Every error carries a hint (docs/api.md): no constructor or helper makes one without it, so a
// hintless error is a compile error rather than an empty field on the wire or in the CLI.
TEST(Status, NoErrorCanBeMadeWithoutAHint) {
  static_assert(!std::is_constructible_v<Status, Code, std::string>);
  static_assert(std::is_constructible_v<Status, Code, std::string, std::string>);
  static_assert(!std::is_invocable_v<decltype(&InvalidArgument), std::string>);
  static_assert(!std::is_invocable_v<decltype(&NotFound), std::string>);
  static_assert(!std::is_invocable_v<decltype(&Conflict), std::string>);
  static_assert(!std::is_invocable_v<decltype(&FailedPrecondition), std::string>);
  static_assert(!std::is_invocable_v<decltype(&Internal), std::string>);
  static_assert(!std::is_invocable_v<decltype(&Unavailable), std::string>);
  const Status s = NotFound("node n1 is not registered", "join it first");
  EXPECT_EQ(s.hint(), "join it first");
  EXPECT_EQ(s.WithContext("heartbeat").hint(), "join it first");
}

TEST(Status, CodeNamesAreStableSnakeCase) {
  EXPECT_EQ(CodeName(Code::kStoreFull), "store_full");
  EXPECT_EQ(CodeName(Code::kStoreIo), "store_io");
  EXPECT_EQ(CodeName(Code::kResourceExhausted), "resource_exhausted");
}

TEST(Result, PropagatesErrorsThroughAssignOrReturn) {
  EXPECT_EQ(Quarter(8).value(), 2);
  Result<int> r = Quarter(6);  // 6 → 3 → odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().hint(), "pass an even number");
}

TEST(MeshVocabulary, RoundTripsAndRejectsUnknown) {
  for (auto p : {mesh::PrivacyClass::kPublic, mesh::PrivacyClass::kPrivate,
                 mesh::PrivacyClass::kTrusted, mesh::PrivacyClass::kTrustedOnly}) {
    EXPECT_EQ(mesh::ParsePrivacyClass(mesh::ToString(p)).value(), p);
  }
  auto bad = mesh::ParsePrivacyClass("secret");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().hint().find("trusted_only"), std::string::npos);
  EXPECT_TRUE(mesh::IsTerminal(mesh::LeaseState::kCompleted));
  EXPECT_FALSE(mesh::IsTerminal(mesh::LeaseState::kRenewed));
}

}  // namespace
}  // namespace populi
