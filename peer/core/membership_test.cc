#include "peer/core/membership.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;

Membership::Options Opts() {
  Membership::Options o;
  o.node_id = "me";
  o.advertise_addr = "me:4444";
  o.seeds = {"seed:4444"};
  o.reconnect_min_ms = 100;
  o.reconnect_max_ms = 10000;
  o.shuffle_ms = 30000;
  return o;
}

TEST(MembershipTest, BackoffDoublesPerFailureUpToTheMaximumWithinItsJitter) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(0);
  DialTarget& t = m.At("x:4444");
  int64_t expected = 100;
  for (int failure = 0; failure < 12; ++failure) {
    const int64_t now = 1000 * failure;
    m.Backoff(t, now, /*refused=*/false);
    EXPECT_EQ(t.backoff_ms, expected) << failure;
    EXPECT_GE(t.next_attempt_ms, now + expected / 2) << failure;
    EXPECT_LT(t.next_attempt_ms, now + expected * 3 / 2) << failure;
    expected = std::min<int64_t>(expected * 2, 10000);
  }
  EXPECT_EQ(t.backoff_ms, 10000);  // capped
}

TEST(MembershipTest, BackoffJitterSpreadsOverHalfToOneAndAHalf) {
  std::mt19937_64 rng(7);
  Membership m(Opts(), &rng);
  m.Start(0);
  DialTarget& t = m.At("x:4444");
  int64_t lo = INT64_MAX, hi = 0;
  std::set<int64_t> distinct;
  for (int i = 0; i < 2000; ++i) {
    t.backoff_ms = 500;  // the next failure: 1000 ms, times the jitter
    m.Backoff(t, 0, /*refused=*/false);
    lo = std::min(lo, t.next_attempt_ms);
    hi = std::max(hi, t.next_attempt_ms);
    distinct.insert(t.next_attempt_ms);
  }
  EXPECT_GE(lo, 500);
  EXPECT_LT(hi, 1500);
  // Spread over the whole range, not a constant.
  EXPECT_LT(lo, 520);
  EXPECT_GT(hi, 1480);
  EXPECT_GT(distinct.size(), 500u);
}

TEST(MembershipTest, ARefusalBacksOffToTheMaximumAtOnce) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(0);
  DialTarget& t = m.At("x:4444");
  m.Backoff(t, 0, /*refused=*/true);
  EXPECT_EQ(t.backoff_ms, 10000);
  EXPECT_GE(t.next_attempt_ms, 5000);
}

TEST(MembershipTest, ReachingANodeResetsTheBackoffOfItsAddresses) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(0);
  DialTarget& t = m.At("seed:4444");
  for (int i = 0; i < 5; ++i) m.Backoff(t, 0, false);
  m.Reached("seed:4444", "10.0.0.9:4444", "n9");
  EXPECT_EQ(m.At("seed:4444").backoff_ms, 0);
  EXPECT_EQ(m.At("seed:4444").node_id, "n9");
  EXPECT_EQ(m.At("10.0.0.9:4444").node_id, "n9");
  EXPECT_EQ(m.KnownNodes(), 1);  // one node under two addresses
}

TEST(MembershipTest, NextToDialSkipsSelfDialledConnectedAndBackingOffTargets) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(0);
  m.At("seed:4444").conn = 5;  // being dialled
  m.At("busy:4444").node_id = "busy";
  m.Backoff(m.At("later:4444"), 0, false);
  m.At("free:4444").reached = true;  // proven: dialled beside others
  absl::flat_hash_map<std::string, bool> connected = {{"busy", true}};
  for (int i = 0; i < 50; ++i) {
    DialTarget* t = m.NextToDial(0, connected, /*alone=*/false);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->addr, "free:4444");
  }
  m.At("free:4444").conn = 6;
  EXPECT_EQ(m.NextToDial(0, connected, false), nullptr);
  // Once its backoff is over, "later" is due.
  DialTarget* t = m.NextToDial(1000, connected, false);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->addr, "later:4444");
}

TEST(MembershipTest, AloneItDialsTheSeedsFirst) {
  std::mt19937_64 rng(3);
  Membership m(Opts(), &rng);
  m.Start(0);
  for (int i = 0; i < 10; ++i) m.At("other" + std::to_string(i) + ":4444");
  for (int i = 0; i < 50; ++i) {
    DialTarget* t = m.NextToDial(0, {}, /*alone=*/true);
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(t->seed);
  }
  std::set<std::string> picked;
  for (int i = 0; i < 200; ++i) picked.insert(m.NextToDial(0, {}, /*alone=*/false)->addr);
  EXPECT_EQ(picked.size(), 11u);  // not alone: any of them, at random
}

TEST(MembershipTest, MergeAddsTargetsKeepsKnownIdsAndSkipsThisNode) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(0);
  m.Reached("", "a:4444", "a");
  wire::PeerList list;
  auto add = [&](const std::string& id, const std::string& addr) {
    auto* p = list.add_peers();
    p->set_node_id(id);
    p->set_addr(addr);
  };
  add("impostor", "a:4444");  // an address's ID is kept once known
  add("b", "b:4444");
  add("me", "elsewhere:4444");  // this node under another address
  add("c", "");
  m.Merge(list);
  EXPECT_EQ(m.At("a:4444").node_id, "a");
  EXPECT_EQ(m.At("b:4444").node_id, "b");
  EXPECT_EQ(m.targets().count("elsewhere:4444"), 0u);
  EXPECT_EQ(m.KnownNodes(), 3);  // a, b and the unreached seed
  // Ours leaves out the peer it is for and hearsay (b), and this node goes
  // first.
  const wire::PeerList ours = m.MakePeerList("b");
  ASSERT_EQ(ours.peers_size(), 2);
  EXPECT_EQ(ours.peers(0).node_id(), "me");
  EXPECT_EQ(ours.peers(1).node_id(), "a");
}

wire::PeerList Bogus(int from, int n) {
  wire::PeerList list;
  for (int i = from; i < from + n; ++i) {
    auto* p = list.add_peers();
    p->set_node_id("bogus" + std::to_string(i));
    p->set_addr("bogus" + std::to_string(i) + ":4444");
  }
  return list;
}

TEST(MembershipTest, HearsayIsBoundedAndNeverPassedOn) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(0);
  m.Merge(Bogus(0, 5000));  // only the first entries of a list count
  EXPECT_EQ(m.targets().size(), 2u + Membership::kMaxPeerListEntries);  // self, seed
  for (int i = 1; i < 10; ++i) m.Merge(Bogus(i * 1000, Membership::kMaxPeerListEntries));
  EXPECT_EQ(m.targets().size(), Membership::kMaxDialTargets);
  EXPECT_EQ(m.MakePeerList("x").peers_size(), 1);  // this node alone: it reached none
  // A member reached makes room by displacing hearsay.
  m.Reached("", "member:4444", "member");
  EXPECT_EQ(m.targets().size(), Membership::kMaxDialTargets);
  ASSERT_EQ(m.targets().count("member:4444"), 1u);
  const wire::PeerList ours = m.MakePeerList("x");
  ASSERT_EQ(ours.peers_size(), 2);
  EXPECT_EQ(ours.peers(1).node_id(), "member");
}

TEST(MembershipTest, AnAddressNeverReachedIsDialledOneAtATimeThenForgotten) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(0);
  m.At("seed:4444").conn = 9;  // the seed is being dialled: it may be, beside others
  m.Merge(Bogus(0, 3));
  int64_t now = 0;
  DialTarget* t = m.NextToDial(now, {}, /*alone=*/false);
  ASSERT_NE(t, nullptr);
  t->conn = 10;
  EXPECT_EQ(m.NextToDial(now, {}, false), nullptr);  // one unproven dial at a time
  const std::string first = t->addr;
  for (int failure = 1; failure <= Membership::kMaxUnansweredDials; ++failure) {
    t->conn = 0;
    m.Backoff(*t, now, /*refused=*/failure % 2 == 0);  // a refusal is no answer either
    now += 20000;
    if (failure < Membership::kMaxUnansweredDials) {
      ASSERT_NE(m.NextToDial(now, {}, false), nullptr);
      t = &m.At(first);
    }
  }
  m.NextToDial(now, {}, false);
  EXPECT_EQ(m.targets().count(first), 0u);
  EXPECT_EQ(m.KnownNodes(), 3);  // the seed and the two others, not yet tried out
  // Reached once, an address is kept however often it fails afterwards.
  m.Reached("", "kept:4444", "kept");
  for (int i = 0; i < 10; ++i) m.Backoff(m.At("kept:4444"), now, false);
  m.NextToDial(now + 20000, {}, false);
  EXPECT_EQ(m.targets().count("kept:4444"), 1u);
}

TEST(MembershipTest, TheShuffleIsDueOncePerPeriod) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(1000);
  EXPECT_FALSE(m.ShuffleDue(30999));
  EXPECT_TRUE(m.ShuffleDue(31000));
  EXPECT_FALSE(m.ShuffleDue(31000));
  EXPECT_FALSE(m.ShuffleDue(60999));
  EXPECT_TRUE(m.ShuffleDue(61000));
}

TEST(MembershipTest, ElsewhereNeedsADialableNodeNotConnected) {
  std::mt19937_64 rng(1);
  Membership m(Opts(), &rng);
  m.Start(0);
  EXPECT_FALSE(m.Elsewhere(0, {}));  // the seed's ID is unknown
  m.At("a:4444").node_id = "a";
  EXPECT_TRUE(m.Elsewhere(0, {}));
  EXPECT_FALSE(m.Elsewhere(0, {{"a", true}}));
}

}  // namespace
}  // namespace meshkv::peer
