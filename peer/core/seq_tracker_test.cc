#include "peer/core/seq_tracker.h"

#include "gtest/gtest.h"

namespace meshkv::peer {
namespace {

constexpr uint64_t kBase = uint64_t{1'700'000'000'000} << SeqTracker::kIncarnationShift;

TEST(SeqTrackerTest, EachWriteIsNewOnceWhateverTheOrder) {
  SeqTracker t;
  EXPECT_TRUE(t.FirstSighting("a", kBase + 1));
  EXPECT_TRUE(t.FirstSighting("a", kBase + 3));
  EXPECT_TRUE(t.FirstSighting("b", kBase + 3));  // origins are independent
  EXPECT_FALSE(t.FirstSighting("a", kBase + 3));
  EXPECT_TRUE(t.FirstSighting("a", kBase + 2));
  EXPECT_FALSE(t.FirstSighting("a", kBase + 2));
  EXPECT_FALSE(t.FirstSighting("a", kBase + 1));
  EXPECT_TRUE(t.FirstSighting("a", kBase + 4));
}

TEST(SeqTrackerTest, ARestartedOriginIsNewAgain) {
  SeqTracker t;
  for (uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE(t.FirstSighting("a", kBase + i));
  const uint64_t later = kBase + (uint64_t{5000} << SeqTracker::kIncarnationShift);
  EXPECT_TRUE(t.FirstSighting("a", later + 1));
  EXPECT_TRUE(t.FirstSighting("a", later + 2));
  EXPECT_FALSE(t.FirstSighting("a", later + 1));
  // The previous life's stragglers are old news.
  EXPECT_FALSE(t.FirstSighting("a", kBase + 101));
}

TEST(SeqTrackerTest, AGapThatNeverFillsIsAbandonedAndMemoryStaysBounded) {
  SeqTracker t(/*max_pending=*/8);
  ASSERT_TRUE(t.FirstSighting("a", kBase + 1));
  // kBase + 2 is lost forever.
  for (uint64_t i = 3; i <= 100; ++i) ASSERT_TRUE(t.FirstSighting("a", kBase + i)) << i;
  for (uint64_t i = 3; i <= 100; ++i) ASSERT_FALSE(t.FirstSighting("a", kBase + i)) << i;
  EXPECT_FALSE(t.FirstSighting("a", kBase + 2));  // too late: anti-entropy's job
  EXPECT_TRUE(t.FirstSighting("a", kBase + 101));
}

TEST(SeqTrackerTest, WatermarksAreContiguousAndCanBeAdvanced) {
  SeqTracker t;
  EXPECT_EQ(t.Watermark("a"), 0u);
  ASSERT_TRUE(t.FirstSighting("a", kBase + 1));
  ASSERT_TRUE(t.FirstSighting("a", kBase + 3));
  EXPECT_EQ(t.Watermark("a"), kBase + 1);  // 2 is missing
  t.Adopt("a", kBase + 2);                 // a peer whose state we merged had it
  EXPECT_EQ(t.Watermark("a"), kBase + 3);
  EXPECT_EQ(t.See("a", kBase + 2), SeqTracker::Sighting::kCovered);
  EXPECT_EQ(t.See("a", kBase + 3), SeqTracker::Sighting::kDuplicate);
  t.Adopt("b", kBase + 9);
  EXPECT_EQ(t.Watermarks(),
            (std::vector<std::pair<std::string, uint64_t>>{{"a", kBase + 3}, {"b", kBase + 9}}));
}

TEST(SeqTrackerTest, AFirstSightingLeavesRoomForEarlierWritesStillOnTheirWay) {
  SeqTracker t;
  const uint64_t s = kBase + 5000;
  ASSERT_TRUE(t.FirstSighting("a", s));
  EXPECT_TRUE(t.FirstSighting("a", s - 1));  // overtaken on a slower path
  EXPECT_TRUE(t.FirstSighting("a", s - SeqTracker::kReorderWindow));
  EXPECT_FALSE(t.FirstSighting("a", s - SeqTracker::kReorderWindow - 1));  // the past
  EXPECT_FALSE(t.FirstSighting("a", s - 1));
}

TEST(SeqTrackerTest, HeldFollowsTheWatermarkOfWritesReceived) {
  SeqTracker t;
  EXPECT_EQ(t.Held("a"), 0u);
  ASSERT_TRUE(t.FirstSighting("a", kBase + 1));
  ASSERT_TRUE(t.FirstSighting("a", kBase + 3));
  EXPECT_EQ(t.Held("a"), kBase + 1);  // 2 is missing
  ASSERT_TRUE(t.FirstSighting("a", kBase + 2));
  EXPECT_EQ(t.Held("a"), kBase + 3);
}

TEST(SeqTrackerTest, HeldStopsBelowAGapGivenUpOnUntilASyncAdoptsPastIt) {
  SeqTracker t(/*max_pending=*/8);
  ASSERT_TRUE(t.FirstSighting("a", kBase + 1));
  for (uint64_t i = 3; i <= 100; ++i) ASSERT_TRUE(t.FirstSighting("a", kBase + i)) << i;
  EXPECT_EQ(t.Watermark("a"), kBase + 100);  // 2 counts as seen...
  EXPECT_EQ(t.Held("a"), kBase + 1);         // ...but nobody may be told it is held
  t.Adopt("a", kBase + 50);                  // a completed sync brought it
  EXPECT_EQ(t.Held("a"), kBase + 100);
}

TEST(SeqTrackerTest, HeldStopsBelowTheWindowAssumedAtAFirstSighting) {
  SeqTracker t;
  const uint64_t s = kBase + 5000;
  ASSERT_TRUE(t.FirstSighting("a", s));
  EXPECT_EQ(t.Held("a"), kBase);  // everything below s is assumed, not held
  t.Adopt("a", s - 1);
  EXPECT_EQ(t.Held("a"), s);
}

}  // namespace
}  // namespace meshkv::peer
