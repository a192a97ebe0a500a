// OwnOriginGuard: which flooded writes claim this node's own origin falsely,
// and how often their refusals are logged.
#include "peer/core/own_origin_guard.h"

#include <string>

#include "gtest/gtest.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/dissemination.h"
#include "peer/core/map_replica.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;

constexpr int64_t kIncarnationMs = 1'700'000'000'000;

// A write of `origin`, numbered `seq`, whose record is versioned by
// `version_origin`.
wire::Write WriteOf(const std::string& origin, uint64_t seq, const std::string& version_origin) {
  wire::Write w;
  w.set_origin(origin);
  w.set_origin_seq(seq);
  *w.mutable_record() = MapReplica::MakeRecord("k", "v", 5, version_origin);
  return w;
}

Dissemination DisseminationOf(const std::string& node_id) {
  return Dissemination(node_id, kIncarnationMs, /*recent_writes=*/16,
                       /*recent_write_bytes=*/1 << 20);
}

TEST(OwnOriginGuardTest, AnotherOriginsWriteIsNeverForged) {
  OwnOriginGuard guard("me");
  const Dissemination d = DisseminationOf("me");
  const wire::Write w = WriteOf("other", SeqTracker::Base(kIncarnationMs) + 1, "other");
  EXPECT_FALSE(guard.ClaimsThisNode(w));
  EXPECT_FALSE(guard.Forged(w, d));
}

TEST(OwnOriginGuardTest, EveryPlaceAWriteCanNameThisNodeIsAClaim) {
  OwnOriginGuard guard("me");
  EXPECT_TRUE(guard.ClaimsThisNode(WriteOf("me", 1, "other")));  // the origin
  EXPECT_TRUE(guard.ClaimsThisNode(WriteOf("other", 1, "me")));  // the record's version
  wire::Write delta = WriteOf("other", 1, "other");
  delta.mutable_record()->mutable_delta_version()->set_origin("me");
  EXPECT_TRUE(guard.ClaimsThisNode(delta));
  wire::Write field = WriteOf("other", 1, "other");
  wire::Field* f = field.mutable_record()->add_fields();
  f->set_name("f");
  f->mutable_version()->set_origin("me");
  EXPECT_TRUE(guard.ClaimsThisNode(field));
  // A prefix or a longer ID is another node.
  EXPECT_FALSE(guard.ClaimsThisNode(WriteOf("me2", 1, "m")));
}

TEST(OwnOriginGuardTest, TheEchoOfAWriteOfThisLifeIsNotForgedAnythingElseIs) {
  OwnOriginGuard guard("me");
  Dissemination d = DisseminationOf("me");
  const wire::Write mine = d.Originate(MapReplica::MakeRecord("k", "v", 5, "me"));
  EXPECT_TRUE(guard.ClaimsThisNode(mine));
  EXPECT_FALSE(guard.Forged(mine, d));  // came back around a cycle
  // A seq this life has not used yet, and one of an earlier life.
  EXPECT_TRUE(guard.Forged(WriteOf("me", mine.origin_seq() + 1, "me"), d));
  EXPECT_TRUE(guard.Forged(WriteOf("me", SeqTracker::Base(kIncarnationMs), "me"), d));
  // Our seq, but carried under another origin's name with our version: the
  // echo rule is for our own origin only.
  EXPECT_TRUE(guard.Forged(WriteOf("other", mine.origin_seq(), "me"), d));
}

TEST(OwnOriginGuardTest, RefusalsAreCountedAndWarnedOfAtMostOncePerPeriod) {
  OwnOriginGuard guard("me");
  EXPECT_EQ(guard.Refused(1000), 1u);  // the first: at once
  EXPECT_EQ(guard.Refused(1001), 0u);
  EXPECT_EQ(guard.Refused(5000), 0u);
  EXPECT_EQ(guard.Refused(1000 + OwnOriginGuard::kLogPeriodMs - 1), 0u);
  // The next line says how many were refused since the last one.
  EXPECT_EQ(guard.Refused(1000 + OwnOriginGuard::kLogPeriodMs), 4u);
  EXPECT_EQ(guard.Refused(1000 + OwnOriginGuard::kLogPeriodMs + 1), 0u);
  EXPECT_EQ(guard.refused(), 6u);
}

// Time 0 is a time like any other (a driver's clock may start there): a
// warning at 0 holds the next one back too.
TEST(OwnOriginGuardTest, AWarningAtTimeZeroStartsThePeriodToo) {
  OwnOriginGuard guard("me");
  EXPECT_EQ(guard.Refused(0), 1u);
  EXPECT_EQ(guard.Refused(1), 0u);
  EXPECT_EQ(guard.Refused(OwnOriginGuard::kLogPeriodMs), 2u);  // the one at 1 and this one
}

}  // namespace
}  // namespace meshkv::peer
