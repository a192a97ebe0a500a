// The write concern's acknowledgement rules in the mesh core, one test per
// rule, with real cores driven against each other (MeshPair) or against a
// test-played peer.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/frame.h"
#include "peer/core/mesh.h"
#include "peer/core/mesh_pair.h"
#include "peer/core/seq_tracker.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;
using Marks = AckTracker::Marks;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// The origin_seq of the n-th write a MeshPair node originates.
uint64_t SeqOf(MeshPair& pair, int node, uint64_t n) {
  return SeqTracker::Base(pair.mesh(node).options().incarnation_ms) + n;
}

std::string FrameOf(FrameType type, const google::protobuf::MessageLite& m) {
  std::string out;
  AppendFrame(type, m, &out);
  return out;
}

// Ack frames delivered over every link, both ways.
uint64_t AckFrames(const MeshPair& pair) {
  uint64_t n = 0;
  for (const MeshPair::Link& l : pair.links()) {
    n += l.delivered[0][static_cast<int>(FrameType::kAck)] +
         l.delivered[1][static_cast<int>(FrameType::kAck)];
  }
  return n;
}

// Node 1 dials node 0.
MeshPair Two(MeshPair::Tweak more = nullptr) {
  return MeshPair(2, [more](int i, MeshOptions& o) {
    if (i == 1) o.seeds = {MeshPair::AddrOf(0)};
    if (more) more(i, o);
  });
}

// A line n0 - n1 - n2: n0 dials nobody, n1 dials n0, n2 dials n1, one each.
MeshPair Line() {
  return MeshPair(3, [](int i, MeshOptions& o) {
    o.max_outbound = i == 0 ? 0 : 1;
    if (i > 0) o.seeds = {MeshPair::AddrOf(i - 1)};
  });
}

TEST(AckRuleTest, ANeighbourAcksAWrittenWaitedForOnceItHoldsIt) {
  MeshPair pair = Two();
  pair.StartAll();
  pair.Write(0, "k", "v", /*ack_wanted=*/true);
  pair.Drive();
  EXPECT_EQ(pair.replica(1).Get("k"), "v");
  EXPECT_THAT(pair.mesh(0).TakeAcks(), UnorderedElementsAre(Pair("n1", SeqOf(pair, 0, 1))));
  EXPECT_EQ(AckFrames(pair), 1u);
  EXPECT_THAT(pair.mesh(0).TakeAcks(), IsEmpty());  // raised once, taken once
}

TEST(AckRuleTest, WritesNobodyWaitsForCostNoAckFrame) {
  MeshPair pair = Two();
  pair.StartAll();
  for (int k = 0; k < 20; ++k) pair.Write(0, "k" + std::to_string(k), "v");
  pair.Drive();
  pair.AdvanceTime(absl::Seconds(3));  // heartbeats, anti-entropy: still none
  EXPECT_EQ(pair.replica(1).size(), 20u);
  EXPECT_EQ(AckFrames(pair), 0u);
  EXPECT_THAT(pair.mesh(0).TakeAcks(), IsEmpty());
}

TEST(AckRuleTest, AMarkCoversEveryEarlierWriteOfTheOrigin) {
  MeshPair pair = Two();
  pair.StartAll();
  for (int k = 0; k < 5; ++k) pair.Write(0, "k" + std::to_string(k), "v");
  pair.Write(0, "last", "v", /*ack_wanted=*/true);
  pair.Drive();
  // One ack, for the sixth write, says the first five are held as well.
  EXPECT_THAT(pair.mesh(0).TakeAcks(), UnorderedElementsAre(Pair("n1", SeqOf(pair, 0, 6))));
  EXPECT_EQ(AckFrames(pair), 1u);
}

TEST(AckRuleTest, AcksAreRelayedUpTheTreeToTheOrigin) {
  MeshPair pair = Line();
  pair.StartAll();
  pair.AdvanceTime(absl::Seconds(1));
  ASSERT_EQ(pair.Established(0).size(), 1u);  // n0 knows only n1: n2 is two hops away
  ASSERT_EQ(pair.Established(2).size(), 1u);
  pair.Write(0, "k", "v", /*ack_wanted=*/true);
  pair.Drive();
  EXPECT_EQ(pair.replica(2).Get("k"), "v");
  EXPECT_THAT(pair.mesh(0).TakeAcks(),
              UnorderedElementsAre(Pair("n1", SeqOf(pair, 0, 1)), Pair("n2", SeqOf(pair, 0, 1))));
  // n1's own ack, n2's to n1, and n1's relay of it: three frames.
  EXPECT_EQ(AckFrames(pair), 3u);
}

TEST(AckRuleTest, ARelayPassesOnOnlyMarksThatRaiseWhatItKnew) {
  MeshPair pair = Line();
  pair.StartAll();
  pair.AdvanceTime(absl::Seconds(1));
  pair.Write(0, "k", "v", /*ack_wanted=*/true);
  pair.Drive();
  const uint64_t before = pair.stats(1).acks_sent;
  // A member tells n1 again what it already relayed (a duplicate, as over a
  // second path): n1 passes nothing on.
  const size_t raw = pair.AcceptRaw(1);
  wire::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_cluster("pair");
  hello.set_leasing(true);
  hello.set_node_id("raw");
  hello.set_advertise_addr("raw:4444");
  hello.set_buckets(16);
  hello.set_synced(true);
  pair.InjectOn(raw, FrameOf(FrameType::kHello, hello));
  wire::Ack dup;
  dup.set_origin("n0");
  wire::HolderMark* m = dup.add_holders();
  m->set_node_id("n2");
  m->set_seq(SeqOf(pair, 0, 1));
  pair.InjectOn(raw, FrameOf(FrameType::kAck, dup));
  pair.Drive();
  EXPECT_EQ(pair.stats(1).acks_sent, before);
  // A mark that raises it is passed on, once.
  m->set_node_id("n7");
  pair.InjectOn(raw, FrameOf(FrameType::kAck, dup));
  pair.InjectOn(raw, FrameOf(FrameType::kAck, dup));
  pair.Drive();
  EXPECT_EQ(pair.stats(1).acks_sent, before + 1);
  EXPECT_THAT(pair.mesh(0).TakeAcks(),
              UnorderedElementsAre(Pair("n1", SeqOf(pair, 0, 1)), Pair("n2", SeqOf(pair, 0, 1)),
                                   Pair("n7", SeqOf(pair, 0, 1))));
}

TEST(AckRuleTest, TheOriginCountsNoHolderTwiceAndRefusesMarksItNeverIssued) {
  MeshPair pair(1);
  pair.StartAll();
  pair.Write(0, "k", "v", /*ack_wanted=*/true);  // seq 1 of this life
  const size_t raw = pair.AcceptRaw(0);
  wire::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_cluster("pair");
  hello.set_leasing(true);
  hello.set_node_id("raw");
  hello.set_advertise_addr("raw:4444");
  hello.set_buckets(16);
  hello.set_synced(true);
  pair.InjectOn(raw, FrameOf(FrameType::kHello, hello));
  wire::Ack ack;
  ack.set_origin("n0");
  auto add = [&](const std::string& id, uint64_t seq) {
    wire::HolderMark* m = ack.add_holders();
    m->set_node_id(id);
    m->set_seq(seq);
  };
  add("raw", SeqOf(pair, 0, 1));
  add("raw", SeqOf(pair, 0, 1));    // again: one holder
  add("n0", SeqOf(pair, 0, 1));     // the origin itself is no replica
  add("x", SeqOf(pair, 0, 2));      // a write not issued yet
  add("y", SeqOf(pair, 0, 0) - 5);  // an earlier life's: covers nothing now
  pair.InjectOn(raw, FrameOf(FrameType::kAck, ack));
  pair.InjectOn(raw, FrameOf(FrameType::kAck, ack));
  EXPECT_THAT(pair.mesh(0).TakeAcks(), UnorderedElementsAre(Pair("raw", SeqOf(pair, 0, 1))));
  EXPECT_EQ(pair.stats(0).acks_refused, 4u);   // x and y, twice
  EXPECT_TRUE(pair.links()[raw].end[0].open);  // a member's bad mark is ignored, not fatal
}

TEST(AckRuleTest, WithDurableAcksTheHolderAcksOnlyOnceItsDiskSaysSo) {
  MeshPair pair = Two([](int i, MeshOptions& o) { o.acks_when_durable = i == 1; });
  pair.StartAll();
  pair.Write(0, "a", "1", /*ack_wanted=*/true);
  pair.Drive();
  EXPECT_EQ(pair.replica(1).Get("a"), "1");         // applied...
  EXPECT_THAT(pair.mesh(0).TakeAcks(), IsEmpty());  // ...but not yet held
  // A second waited write while the disk is busy: one more request, later.
  pair.Write(0, "b", "2", /*ack_wanted=*/true);
  pair.Drive();
  ASSERT_TRUE(pair.CompleteDurable(1));
  pair.Drive();
  EXPECT_THAT(pair.mesh(0).TakeAcks(), UnorderedElementsAre(Pair("n1", SeqOf(pair, 0, 1))));
  ASSERT_TRUE(pair.CompleteDurable(1));
  pair.Drive();
  EXPECT_THAT(pair.mesh(0).TakeAcks(), UnorderedElementsAre(Pair("n1", SeqOf(pair, 0, 2))));
  EXPECT_FALSE(pair.CompleteDurable(1));  // nothing more was asked
}

TEST(AckRuleTest, AHolderThatLosesTheLinkOwesNothingOverIt) {
  MeshPair pair = Two([](int i, MeshOptions& o) { o.acks_when_durable = i == 1; });
  pair.StartAll();
  pair.Write(0, "a", "1", /*ack_wanted=*/true);
  pair.Drive();
  pair.Break(0);
  ASSERT_TRUE(pair.CompleteDurable(1));  // the ack has no link to go over
  pair.Drive();
  EXPECT_THAT(pair.mesh(0).TakeAcks(), IsEmpty());
  EXPECT_EQ(pair.stats(1).acks_sent, 0u);
}

}  // namespace
}  // namespace meshkv::peer
