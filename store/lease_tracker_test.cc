#include "store/lease_tracker.h"

#include "gtest/gtest.h"

namespace meshkv {
namespace {

TEST(LeaseTrackerTest, LeasesLapseWhenTheirSecondHasPassed) {
  LeaseTracker t;
  t.Add(LeaseOwner::kSelf, 10'500);
  t.Add(LeaseOwner::kOther, 20'000);
  EXPECT_EQ(t.active(LeaseOwner::kSelf), 1);
  EXPECT_EQ(t.active(LeaseOwner::kOther), 1);
  t.Advance(10'999);
  EXPECT_EQ(t.active(LeaseOwner::kSelf), 1);
  t.Advance(11'000);
  EXPECT_EQ(t.active(LeaseOwner::kSelf), 0);
  EXPECT_EQ(t.expired(LeaseOwner::kSelf), 1u);
  EXPECT_EQ(t.active(LeaseOwner::kOther), 1);
  t.Advance(20'000);
  EXPECT_EQ(t.expired(LeaseOwner::kOther), 1u);
}

TEST(LeaseTrackerTest, RemovedLeaseNeverExpires) {
  LeaseTracker t;
  t.Add(LeaseOwner::kSelf, 5'000);
  t.Remove(LeaseOwner::kSelf, 5'000);
  t.Advance(60'000);
  EXPECT_EQ(t.active(LeaseOwner::kSelf), 0);
  EXPECT_EQ(t.expired(LeaseOwner::kSelf), 0u);
}

TEST(LeaseTrackerTest, RemovingALapsedLeaseIsANoOp) {
  LeaseTracker t;
  t.Add(LeaseOwner::kOther, 5'000);
  t.Advance(6'000);
  t.Remove(LeaseOwner::kOther, 5'000);
  EXPECT_EQ(t.active(LeaseOwner::kOther), 0);
  EXPECT_EQ(t.expired(LeaseOwner::kOther), 1u);
}

TEST(LeaseTrackerTest, AddingAnAlreadyLapsedLeaseCountsNothing) {
  LeaseTracker t;
  t.Advance(100'000);
  t.Add(LeaseOwner::kSelf, 50'000);
  EXPECT_EQ(t.active(LeaseOwner::kSelf), 0);
  t.Advance(200'000);
  EXPECT_EQ(t.expired(LeaseOwner::kSelf), 0u);
}

}  // namespace
}  // namespace meshkv
