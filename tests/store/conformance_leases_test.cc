// Conformance: exec leases (state machine, fencing tokens, lookup).
#include "store/conformance.h"

namespace populi::store::testing {
namespace {

using mesh::ExecLease;
using mesh::LeaseState;

class Leases : public StoreConformance {
 protected:
  Result<ExecLease> Grant(std::string scope, std::string holder, int64_t now, int64_t ttl = 1000) {
    return Do<ExecLease>([&](WriteTxn& t) { return t.GrantLease(scope, holder, ttl, now); });
  }
  // Drives a fresh lease into `state` (granted leases stay as granted).
  ExecLease LeaseIn(LeaseState state, const std::string& scope) {
    auto lease = Grant(scope, "h", 0);
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    Result<ExecLease> moved = *lease;
    switch (state) {
      case LeaseState::kGranted:
        break;
      case LeaseState::kRenewed:
        moved = Do<ExecLease>(
            [&](WriteTxn& t) { return t.RenewLease(lease->lease_id, "h", 1000, 10); });
        break;
      case LeaseState::kExpired: {
        auto expired =
            Do<std::vector<ExecLease>>([&](WriteTxn& t) { return t.ExpireLeases(5000); });
        EXPECT_TRUE(expired.ok());
        moved = NotFound("not expired", "a test hint");
        for (const ExecLease& e : *expired) {
          if (e.lease_id == lease->lease_id) moved = e;
        }
        break;
      }
      case LeaseState::kRevoked:
        moved = Do<ExecLease>([&](WriteTxn& t) { return t.RevokeLease(lease->lease_id, 10); });
        break;
      case LeaseState::kReleased:
        moved =
            Do<ExecLease>([&](WriteTxn& t) { return t.ReleaseLease(lease->lease_id, "h", 10); });
        break;
      case LeaseState::kCompleted:
        moved = Do<ExecLease>([&](WriteTxn& t) {
          return t.CompleteLease(lease->lease_id, "h", lease->fencing_token, 10);
        });
        break;
    }
    EXPECT_TRUE(moved.ok()) << moved.status().ToString();
    EXPECT_EQ(moved->state, state);
    return *moved;
  }
};

TEST_P(Leases, GrantGivesRandomIdAndFirstToken) {
  auto a = Grant("task:1", "n1", 100);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->lease_id.size(), 32u);
  EXPECT_EQ(a->lease_id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a->fencing_token, 1);
  EXPECT_EQ(a->state, LeaseState::kGranted);
  EXPECT_EQ(a->expires_ms, 1100);
  auto other_scope = Grant("task:2", "n1", 100);
  EXPECT_NE(other_scope->lease_id, a->lease_id);
  EXPECT_EQ(other_scope->fencing_token, 1);
  auto by_id = store_->GetLease(a->lease_id);
  ASSERT_TRUE(by_id->has_value());
  EXPECT_EQ((*by_id)->scope_key, "task:1");
  auto live = store_->LiveLeaseForScope("task:1", 500);
  ASSERT_TRUE(live->has_value());
  EXPECT_EQ((*live)->lease_id, a->lease_id);
  EXPECT_FALSE(store_->LiveLeaseForScope("task:1", 1100)->has_value());
}

TEST_P(Leases, SecondHolderConflictsSameHolderRenews) {
  auto a = Grant("task:1", "n1", 0);
  EXPECT_EQ(Grant("task:1", "n2", 10).status().code(), Code::kConflict);
  auto again = Grant("task:1", "n1", 20);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->lease_id, a->lease_id);
  EXPECT_EQ(again->fencing_token, a->fencing_token);
  EXPECT_EQ(again->state, LeaseState::kRenewed);
  EXPECT_EQ(again->expires_ms, 1020);
}

TEST_P(Leases, LapsedLeaseIsExpiredAndSupersededWithHigherToken) {
  auto a = Grant("task:1", "n1", 0);
  auto b = Grant("task:1", "n2", 1000);  // a's expiry is exactly 1000
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_GT(b->fencing_token, a->fencing_token);
  EXPECT_EQ((*store_->GetLease(a->lease_id))->state, LeaseState::kExpired);
  auto stale = Do<ExecLease>(
      [&](WriteTxn& t) { return t.CompleteLease(a->lease_id, "n1", a->fencing_token, 1001); });
  EXPECT_EQ(stale.status().code(), Code::kFailedPrecondition);
}

TEST_P(Leases, LegalTransitions) {
  auto renewed = LeaseIn(LeaseState::kRenewed, "s1");
  EXPECT_EQ(renewed.renewed_ms, 10);
  EXPECT_EQ(renewed.expires_ms, 1010);
  auto twice =
      Do<ExecLease>([&](WriteTxn& t) { return t.RenewLease(renewed.lease_id, "h", 50, 20); });
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->state, LeaseState::kRenewed);
  EXPECT_EQ(twice->expires_ms, 70);
  for (LeaseState end : {LeaseState::kExpired, LeaseState::kRevoked, LeaseState::kReleased,
                         LeaseState::kCompleted}) {
    const std::string scope = "end:" + std::string(mesh::ToString(end));
    auto lease = LeaseIn(end, scope);
    auto stored = store_->GetLease(lease.lease_id);
    EXPECT_EQ((*stored)->state, end);
    EXPECT_GT((*stored)->ended_ms, 0) << scope;
    EXPECT_FALSE(store_->LiveLeaseForScope(scope, 20)->has_value()) << scope;
  }
}

TEST_P(Leases, EveryTerminalStateRefusesEveryTransition) {
  for (LeaseState end : {LeaseState::kExpired, LeaseState::kRevoked, LeaseState::kReleased,
                         LeaseState::kCompleted}) {
    const std::string scope = "t:" + std::string(mesh::ToString(end));
    ExecLease lease = LeaseIn(end, scope);
    const std::string& id = lease.lease_id;
    const int64_t token = lease.fencing_token;
    SCOPED_TRACE(std::string(mesh::ToString(end)));
    EXPECT_EQ(
        Do<ExecLease>([&](WriteTxn& t) { return t.RenewLease(id, "h", 1000, 20); }).status().code(),
        Code::kFailedPrecondition);
    EXPECT_EQ(
        Do<ExecLease>([&](WriteTxn& t) { return t.ReleaseLease(id, "h", 20); }).status().code(),
        Code::kFailedPrecondition);
    EXPECT_EQ(Do<ExecLease>([&](WriteTxn& t) { return t.CompleteLease(id, "h", token, 20); })
                  .status()
                  .code(),
              Code::kFailedPrecondition);
    EXPECT_EQ(Do<ExecLease>([&](WriteTxn& t) { return t.RevokeLease(id, 20); }).status().code(),
              Code::kFailedPrecondition);
    EXPECT_EQ((*store_->GetLease(id))->state, end);  // refused means untouched
  }
}

TEST_P(Leases, LiveLeaseRefusesWrongHolderAndStaleToken) {
  ExecLease lease = LeaseIn(LeaseState::kGranted, "s");
  const std::string& id = lease.lease_id;
  EXPECT_EQ(
      Do<ExecLease>([&](WriteTxn& t) { return t.RenewLease(id, "x", 1000, 20); }).status().code(),
      Code::kConflict);
  EXPECT_EQ(Do<ExecLease>([&](WriteTxn& t) { return t.ReleaseLease(id, "x", 20); }).status().code(),
            Code::kConflict);
  EXPECT_EQ(
      Do<ExecLease>([&](WriteTxn& t) { return t.CompleteLease(id, "x", lease.fencing_token, 20); })
          .status()
          .code(),
      Code::kConflict);
  EXPECT_EQ(Do<ExecLease>(
                [&](WriteTxn& t) { return t.CompleteLease(id, "h", lease.fencing_token + 1, 20); })
                .status()
                .code(),
            Code::kConflict);
  EXPECT_EQ(Do<ExecLease>([&](WriteTxn& t) { return t.RenewLease("0123", "h", 1000, 20); })
                .status()
                .code(),
            Code::kNotFound);
  EXPECT_EQ(Do<ExecLease>([&](WriteTxn& t) { return t.RevokeLease("0123", 20); }).status().code(),
            Code::kNotFound);
  // Past expiry but not yet swept: the holder can no longer renew or complete.
  EXPECT_EQ(
      Do<ExecLease>([&](WriteTxn& t) { return t.RenewLease(id, "h", 1000, 1000); }).status().code(),
      Code::kFailedPrecondition);
  EXPECT_EQ((*store_->GetLease(id))->state, LeaseState::kGranted);
}

TEST_P(Leases, FencingTokensStrictlyIncreaseAcrossReopenAndRetention) {
  int64_t last = 0;
  int64_t now = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3; ++i) {
      auto lease = Grant("task:x", "h" + std::to_string(i), now);
      ASSERT_TRUE(lease.ok()) << lease.status().ToString();
      EXPECT_GT(lease->fencing_token, last);
      last = lease->fencing_token;
      ASSERT_TRUE(Do<ExecLease>([&](WriteTxn& t) {
                    return t.ReleaseLease(lease->lease_id, lease->holder_node_id, now + 1);
                  }).ok());
      now += 10;
    }
    // Retention removes every finished lease row; the counter must survive it.
    auto swept = store_->RunRetention(now + 10'000, 1, 1000);
    ASSERT_TRUE(swept.ok()) << swept.status().ToString();
    EXPECT_EQ(swept->leases_deleted, 3);
    Reopen();
  }
  EXPECT_EQ(last, 9);
}

TEST_P(Leases, ListLeasesFiltersLive) {
  LeaseIn(LeaseState::kGranted, "a");
  LeaseIn(LeaseState::kReleased, "b");
  EXPECT_EQ(store_->ListLeases(false, 20)->size(), 2u);
  auto live = store_->ListLeases(true, 20);
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].scope_key, "a");
}

TEST_P(Leases, BadGrantInputIsRefused) {
  EXPECT_EQ(Grant("", "h", 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Grant(std::string(2049, 's'), "h", 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Grant("s", "", 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Grant("s", "h", 0, 0).status().code(), Code::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, Leases, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace populi::store::testing
