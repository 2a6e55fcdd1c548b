// Conformance: roles (WriteTxn::AcquireRole / CheckRole / ReleaseRole): one holder at a time, a
// strictly greater fencing token for every new holder, a stale holder refused.
#include "store/conformance.h"

namespace populi::store::testing {
namespace {

class Roles : public StoreConformance {
 protected:
  Result<RoleLease> Acquire(const std::string& holder, int64_t now, int64_t ttl = 1000) {
    return Do<RoleLease>([&](WriteTxn& t) { return t.AcquireRole("sweeper", holder, ttl, now); });
  }
  Status Check(const std::string& holder, int64_t token) {
    return store_->Write([&](WriteTxn& t) { return t.CheckRole("sweeper", holder, token); });
  }
};

TEST_P(Roles, FirstAcquireGetsTokenOneAndIsReadBack) {
  auto none = store_->GetRole("sweeper");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  auto a = Acquire("r1", 100);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->role, "sweeper");
  EXPECT_EQ(a->holder, "r1");
  EXPECT_EQ(a->fencing_token, 1);
  EXPECT_EQ(a->acquired_ms, 100);
  EXPECT_EQ(a->expires_ms, 1100);
  auto stored = store_->GetRole("sweeper");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->holder, "r1");
  EXPECT_EQ((*stored)->fencing_token, 1);
  EXPECT_EQ((*stored)->expires_ms, 1100);
  EXPECT_TRUE(Check("r1", 1).ok());
}

TEST_P(Roles, HolderRenewsWithTheSameTokenAndOthersAreRefusedWhileLive) {
  ASSERT_TRUE(Acquire("r1", 100).ok());
  auto renewed = Acquire("r1", 900);
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_EQ(renewed->fencing_token, 1);
  EXPECT_EQ(renewed->acquired_ms, 100);
  EXPECT_EQ(renewed->expires_ms, 1900);
  auto refused = Acquire("r2", 1800);
  EXPECT_EQ(refused.status().code(), Code::kConflict) << refused.status().ToString();
  EXPECT_FALSE(refused.status().hint().empty());
  EXPECT_EQ(Check("r2", 1).code(), Code::kConflict);
}

TEST_P(Roles, ExpiredRoleIsTakenOverWithAGreaterTokenAndTheStaleHolderIsFenced) {
  ASSERT_TRUE(Acquire("r1", 100).ok());
  auto taken = Acquire("r2", 1100);  // r1's lease ended at 1100
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(taken->holder, "r2");
  EXPECT_EQ(taken->fencing_token, 2);
  EXPECT_EQ(taken->acquired_ms, 1100);
  // The old holder wakes up: its writes are refused, and so is its renewal while r2's is live.
  Status stale = Check("r1", 1);
  EXPECT_EQ(stale.code(), Code::kConflict) << stale.ToString();
  EXPECT_FALSE(stale.hint().empty());
  EXPECT_EQ(Acquire("r1", 1200).status().code(), Code::kConflict);
  EXPECT_EQ(Check("r2", 1).code(), Code::kConflict);  // right holder, wrong token
  EXPECT_TRUE(Check("r2", 2).ok());
  // A fenced write rolls back whole: nothing it did before the check is kept.
  Status fenced = store_->Write([&](WriteTxn& t) -> Status {
    POPULI_RETURN_IF_ERROR(t.PutKv("roles-test", "k", "v"));
    return t.CheckRole("sweeper", "r1", 1);
  });
  EXPECT_EQ(fenced.code(), Code::kConflict);
  auto kv = store_->GetKv("roles-test", "k");
  ASSERT_TRUE(kv.ok());
  EXPECT_FALSE(kv->has_value());
}

TEST_P(Roles, HolderReacquiringAfterItsLeaseLapsedGetsANewToken) {
  ASSERT_TRUE(Acquire("r1", 100).ok());
  auto again = Acquire("r1", 5000);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->fencing_token, 2);
  EXPECT_EQ(again->acquired_ms, 5000);
  EXPECT_EQ(Check("r1", 1).code(), Code::kConflict);
}

TEST_P(Roles, ReleaseLetsAnotherTakeOverAtOnceAndTokensSurviveReopen) {
  ASSERT_TRUE(Acquire("r1", 100).ok());
  EXPECT_EQ(
      store_->Write([](WriteTxn& t) { return t.ReleaseRole("sweeper", "r2", 1, 200); }).code(),
      Code::kConflict);
  ASSERT_TRUE(
      store_->Write([](WriteTxn& t) { return t.ReleaseRole("sweeper", "r1", 1, 200); }).ok());
  auto taken = Acquire("r2", 200);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(taken->fencing_token, 2);
  Reopen();
  auto stored = store_->GetRole("sweeper");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->holder, "r2");
  EXPECT_EQ((*stored)->fencing_token, 2);
  auto next = Acquire("r3", 100'000);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->fencing_token, 3);
}

TEST_P(Roles, InvalidArgumentsAreRefused) {
  EXPECT_EQ(Acquire("", 100).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Acquire("r1", 100, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(
      store_->Write([](WriteTxn& t) { return t.AcquireRole("", "r1", 10, 1).status(); }).code(),
      Code::kInvalidArgument);
  // Roles are independent of one another.
  ASSERT_TRUE(Acquire("r1", 100).ok());
  auto other = Do<RoleLease>([](WriteTxn& t) { return t.AcquireRole("other", "r2", 10, 100); });
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other->fencing_token, 1);
}

TEST_P(Roles, PlacementLockIsTakenInsideAWrite) {
  EXPECT_TRUE(store_->Write([](WriteTxn& t) { return t.LockPlacement(); }).ok());
  EXPECT_TRUE(store_->Write([](WriteTxn& t) { return t.LockPlacement(); }).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, Roles, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace populi::store::testing
