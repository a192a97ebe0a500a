#include "peer/core/dissemination.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;
using Sighting = SeqTracker::Sighting;

constexpr int64_t kIncarnation = 1'700'000'000'000;

wire::Write WriteOf(const std::string& origin, uint64_t seq) {
  wire::Write w;
  w.set_origin(origin);
  w.set_origin_seq(seq);
  w.mutable_record()->set_key("k");
  return w;
}

google::protobuf::RepeatedPtrField<wire::OriginMark> Marks(const std::string& origin,
                                                           uint64_t seq) {
  google::protobuf::RepeatedPtrField<wire::OriginMark> marks;
  wire::OriginMark* m = marks.Add();
  m->set_origin(origin);
  m->set_seq(seq);
  return marks;
}

TEST(DisseminationTest, OriginatedWritesAreNamedInOrderAndAlreadySeen) {
  Dissemination d("me", kIncarnation, 100, 1 << 20);
  const wire::Write a = d.Originate(wire::Record());
  const wire::Write b = d.Originate(wire::Record());
  EXPECT_EQ(a.origin(), "me");
  EXPECT_EQ(b.origin_seq(), a.origin_seq() + 1);
  EXPECT_EQ(a.origin_seq(), SeqTracker::Base(kIncarnation) + 1);
  EXPECT_NE(d.See(a), Sighting::kNew);  // our own, coming back
}

TEST(DisseminationTest, TheFirstDuplicateOnALinkPrunesItOnce) {
  Dissemination d("me", kIncarnation, 100, 1 << 20);
  LinkTrees first, second;
  const uint64_t base = SeqTracker::Base(kIncarnation);
  const wire::Write w = WriteOf("o", base + 1);
  ASSERT_EQ(d.See(w), Sighting::kNew);
  EXPECT_FALSE(d.Accepted(first, /*from=*/1, w));
  const Sighting again = d.See(w);
  ASSERT_EQ(again, Sighting::kDuplicate);
  EXPECT_TRUE(d.Duplicate(second, w, again));  // prune
  EXPECT_FALSE(d.Duplicate(second, w, again));  // once
  EXPECT_TRUE(second.pruned_by_us.contains("o"));
  // A new write first over the pruned link re-grafts it: it is the parent
  // now.
  const wire::Write next = WriteOf("o", base + 2);
  ASSERT_EQ(d.See(next), Sighting::kNew);
  EXPECT_TRUE(d.Accepted(second, /*from=*/2, next));
  EXPECT_FALSE(second.pruned_by_us.contains("o"));
  EXPECT_THAT(d.Orphaned(2), ::testing::ElementsAre("o"));
  EXPECT_THAT(d.Orphaned(1), ::testing::IsEmpty());
}

TEST(DisseminationTest, AHeartbeatAheadTwiceInARowGrafts) {
  Dissemination d("me", kIncarnation, 100, 1 << 20);
  LinkTrees link;
  link.pruned_by_us.insert("o");
  const uint64_t base = SeqTracker::Base(kIncarnation);
  EXPECT_TRUE(d.Heartbeat(link, Marks("o", base + 5)).empty());  // maybe in flight
  std::vector<wire::Graft> grafts = d.Heartbeat(link, Marks("o", base + 5));
  ASSERT_EQ(grafts.size(), 1u);
  EXPECT_EQ(grafts[0].origin(), "o");
  EXPECT_EQ(grafts[0].after(), d.Watermark("o"));
  EXPECT_EQ(grafts[0].upto(), base + 5);
  EXPECT_FALSE(link.pruned_by_us.contains("o"));
}

TEST(DisseminationTest, CatchingUpBetweenHeartbeatsClearsTheSuspicion) {
  Dissemination d("me", kIncarnation, 100, 1 << 20);
  LinkTrees link;
  const uint64_t base = SeqTracker::Base(kIncarnation);
  for (uint64_t s = base + 1; s <= base + 2; ++s) d.See(WriteOf("o", s));
  EXPECT_TRUE(d.Heartbeat(link, Marks("o", base + 3)).empty());
  d.See(WriteOf("o", base + 3));  // it arrived
  EXPECT_TRUE(d.Heartbeat(link, Marks("o", base + 3)).empty());
  EXPECT_TRUE(link.suspect.empty());
}

TEST(DisseminationTest, AGraftUnprunesTheLinkAndResendsOrAsksForASync) {
  Dissemination d("me", kIncarnation, /*recent_writes=*/3, 1 << 20);
  const uint64_t base = SeqTracker::Base(kIncarnation);
  for (uint64_t s = base + 1; s <= base + 5; ++s) d.Remember(WriteOf("o", s));
  LinkTrees link;
  link.pruned_by_peer.insert("o");
  wire::Graft graft;
  graft.set_origin("o");
  graft.set_after(base + 3);
  graft.set_upto(base + 5);
  Dissemination::GraftAnswer a = d.Grafted(link, graft);
  EXPECT_TRUE(link.Pushes("o"));
  EXPECT_EQ(a.resend.size(), 2u);
  EXPECT_FALSE(a.needs_sync);
  graft.set_after(base);  // seqs 1, 2 are evicted
  a = d.Grafted(link, graft);
  EXPECT_EQ(a.resend.size(), 3u);
  EXPECT_TRUE(a.needs_sync);
  graft.set_upto(base);  // a bare re-attachment
  a = d.Grafted(link, graft);
  EXPECT_TRUE(a.resend.empty());
  EXPECT_FALSE(a.needs_sync);
}

}  // namespace
}  // namespace meshkv::peer
