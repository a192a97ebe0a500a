#include "peer/core/recent_writes.h"

#include <string>

#include "gtest/gtest.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;

wire::Write W(const std::string& origin, uint64_t seq, size_t value_bytes = 10) {
  wire::Write w;
  w.set_origin(origin);
  w.set_origin_seq(seq);
  w.mutable_record()->set_key("k");
  w.mutable_record()->set_bytes(std::string(value_bytes, 'x'));
  return w;
}

std::vector<uint64_t> Seqs(const std::vector<const wire::Write*>& ws) {
  std::vector<uint64_t> s;
  for (const wire::Write* w : ws) s.push_back(w->origin_seq());
  return s;
}

TEST(RecentWritesTest, RangeReturnsTheHeldWritesAndWhetherItReachesBack) {
  RecentWrites r(100, 1 << 20);
  for (uint64_t s = 1; s <= 5; ++s) r.Remember(W("a", s));
  r.Remember(W("b", 3));
  bool first = false;
  EXPECT_EQ(Seqs(r.Range("a", 1, 4, &first)), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_TRUE(first);
  EXPECT_EQ(Seqs(r.Range("b", 0, 9, &first)), (std::vector<uint64_t>{3}));
  EXPECT_FALSE(first);  // seq 1 of b was never seen here
  EXPECT_TRUE(r.Range("c", 0, 9, &first).empty());
  EXPECT_FALSE(first);
}

TEST(RecentWritesTest, EvictsTheOldestArrivalBeyondTheCount) {
  RecentWrites r(3, 1 << 20);
  r.Remember(W("a", 1));
  r.Remember(W("b", 1));
  r.Remember(W("a", 2));
  r.Remember(W("a", 3));  // evicts a/1
  EXPECT_EQ(r.size(), 3u);
  bool first = false;
  EXPECT_EQ(Seqs(r.Range("a", 0, 9, &first)), (std::vector<uint64_t>{2, 3}));
  EXPECT_FALSE(first);  // no longer reaches back to a/1: needs a sync
  EXPECT_EQ(Seqs(r.Range("b", 0, 9, &first)), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(first);
}

TEST(RecentWritesTest, EvictsBeyondTheBytes) {
  const size_t one = W("a", 1, 1000).ByteSizeLong();
  RecentWrites r(100, 3 * one);
  for (uint64_t s = 1; s <= 10; ++s) r.Remember(W("a", s, 1000));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_LE(r.bytes(), 3 * one);
  bool first = false;
  EXPECT_EQ(Seqs(r.Range("a", 7, 10, &first)), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_TRUE(first);
}

}  // namespace
}  // namespace meshkv::peer
