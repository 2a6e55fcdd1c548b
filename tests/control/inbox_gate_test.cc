// The inbox cap's gate (control/api/inbox_gate.h): which deliveries skip the count.
#include "control/api/inbox_gate.h"

#include <gtest/gtest.h>

#include <string>

namespace populi::control {
namespace {

TEST(InboxCapGate, CountsUntilCountedThenAdmitsUpToHalfTheCap) {
  InboxCapGate gate(/*cap=*/10, /*recount_ms=*/250);
  EXPECT_FALSE(gate.AdmitWithoutCount("r", 1, 1000));  // never counted
  gate.Counted("r", /*pending=*/2, /*admitted=*/1, 1000);
  EXPECT_TRUE(gate.AdmitWithoutCount("r", 1, 1010));   // 2 + 1 + 1 = 4
  EXPECT_TRUE(gate.AdmitWithoutCount("r", 1, 1020));   // 5: half the cap
  EXPECT_FALSE(gate.AdmitWithoutCount("r", 1, 1030));  // 6 would pass half: count again
  EXPECT_FALSE(gate.AdmitWithoutCount("other", 1, 1030));
}

TEST(InboxCapGate, AFreshCountReplacesTheEstimateAndAgesOut) {
  InboxCapGate gate(10, 250);
  gate.Counted("r", 4, 1, 1000);  // 5
  EXPECT_FALSE(gate.AdmitWithoutCount("r", 1, 1001));
  gate.Counted("r", 0, 1, 1002);  // acknowledged meanwhile: 1
  EXPECT_TRUE(gate.AdmitWithoutCount("r", 3, 1100));
  EXPECT_FALSE(gate.AdmitWithoutCount("r", 1, 1252));  // counted 250 ms ago: count again
  // A refused deliver (admitted 0) is remembered as the count alone; a batch over the cap never
  // skips the count.
  gate.Counted("r", 9, 0, 2000);
  EXPECT_FALSE(gate.AdmitWithoutCount("r", 1, 2001));
  InboxCapGate small(1, 250);
  small.Counted("r", 0, 0, 0);
  EXPECT_FALSE(small.AdmitWithoutCount("r", 2, 1));
}

TEST(InboxCapGate, RemembersABoundedNumberOfReceivers) {
  InboxCapGate gate(100, 250);
  for (size_t i = 0; i < InboxCapGate::kMaxReceivers; ++i) gate.Counted(std::to_string(i), 0, 0, 0);
  gate.Counted("late", 0, 0, 1);  // all fresh: not remembered
  EXPECT_FALSE(gate.AdmitWithoutCount("late", 1, 2));
  EXPECT_TRUE(gate.AdmitWithoutCount("0", 1, 2));
  gate.Counted("later", 0, 0, 300);  // the stale ones make room
  EXPECT_TRUE(gate.AdmitWithoutCount("later", 1, 301));
  EXPECT_FALSE(gate.AdmitWithoutCount("0", 1, 301));
}

}  // namespace
}  // namespace populi::control
