// SyncSession's rules, with the two roles run against each other over two
// MapReplicas, frame by frame.
#include "peer/core/sync_session.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/core/map_replica.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;
using ::testing::ElementsAre;

struct Sent {
  FrameType type;
  std::string body;
};

struct Exchange {
  std::vector<Sent> by_initiator, by_responder;
  size_t records_sent = 0;
  bool done = false;

  std::vector<FrameType> Types(const std::vector<Sent>& v) const {
    std::vector<FrameType> t;
    for (const Sent& s : v) t.push_back(s.type);
    return t;
  }
};

// Runs a whole session: `a` initiates, `b` responds; RecordChunks are
// merged into the receiving replica as the mesh would.
Exchange RunSession(MapReplica& a, MapReplica& b, size_t chunk_bytes = 1 << 20) {
  Exchange run;
  SyncSession init = SyncSession::Initiate(42, &a, chunk_bytes, 0);
  std::optional<SyncSession> resp;
  auto produce = [&](SyncSession& s, std::vector<Sent>* out) {
    std::vector<Sent> frames;
    int64_t budget = 1 << 30;
    run.records_sent += s.Produce(
        [&](FrameType t, const google::protobuf::MessageLite& m) {
          frames.push_back({t, m.SerializeAsString()});
        },
        &budget);
    out->insert(out->end(), frames.begin(), frames.end());
    return frames;
  };
  for (int round = 0; round < 100 && !(init.done() && resp && resp->done()); ++round) {
    for (const Sent& f : produce(init, &run.by_initiator)) {
      if (f.type == FrameType::kDigestOffer) {
        wire::DigestOffer offer;
        offer.ParseFromString(f.body);
        absl::StatusOr<SyncSession> s = SyncSession::Respond(offer, &b, chunk_bytes, 0);
        EXPECT_TRUE(s.ok()) << s.status();
        resp.emplace(std::move(*s));
      } else if (f.type == FrameType::kRecordChunk) {
        wire::RecordChunk c;
        c.ParseFromString(f.body);
        for (const auto& r : c.records()) (void)b.Apply(r, ApplySource::kSync);
      } else if (f.type == FrameType::kPull) {
        wire::Pull p;
        p.ParseFromString(f.body);
        EXPECT_TRUE(resp->OnPull(p).ok());
      } else if (f.type == FrameType::kSyncEnd) {
        EXPECT_TRUE(resp->OnSyncEnd().ok());
      }
    }
    if (!resp) continue;
    for (const Sent& f : produce(*resp, &run.by_responder)) {
      if (f.type == FrameType::kRecordChunk) {
        wire::RecordChunk c;
        c.ParseFromString(f.body);
        for (const auto& r : c.records()) (void)a.Apply(r, ApplySource::kSync);
      } else if (f.type == FrameType::kBucketKeys) {
        wire::BucketKeys k;
        k.ParseFromString(f.body);
        EXPECT_TRUE(init.OnBucketKeys(k).ok());
      } else if (f.type == FrameType::kSyncEnd) {
        EXPECT_TRUE(init.OnSyncEnd().ok());
      }
    }
  }
  run.done = init.done() && resp && resp->done();
  return run;
}

TEST(SyncSessionTest, EqualDigestsSendNothingButTheOfferAndTheEnds) {
  MapReplica a, b;
  for (int i = 0; i < 50; ++i) {
    a.Put(absl::StrCat("k", i), "v", 1, "n0");
    b.Put(absl::StrCat("k", i), "v", 1, "n0");
  }
  const Exchange run = RunSession(a, b);
  EXPECT_TRUE(run.done);
  EXPECT_THAT(run.Types(run.by_initiator), ElementsAre(FrameType::kDigestOffer, FrameType::kSyncEnd));
  EXPECT_THAT(run.Types(run.by_responder), ElementsAre(FrameType::kSyncEnd, FrameType::kSyncEnd));
  EXPECT_EQ(run.records_sent, 0u);
}

TEST(SyncSessionTest, ADifferingBucketGoesKeysThenPullThenRecords) {
  MapReplica a, b;
  for (int i = 0; i < 20; ++i) {
    a.Put(absl::StrCat("k", i), "v", 1, "n0");
    b.Put(absl::StrCat("k", i), "v", 1, "n0");
  }
  b.Put("k3", "newer", 2, "n1");  // one key differs, in one bucket
  const Exchange run = RunSession(a, b);
  EXPECT_TRUE(run.done);
  EXPECT_THAT(run.Types(run.by_responder),
              ElementsAre(FrameType::kBucketKeys, FrameType::kSyncEnd, FrameType::kRecordChunk,
                          FrameType::kSyncEnd));
  // Both hold k3 under different hashes: each sends its own and pulls the
  // other's; the merge keeps the newer on both.
  EXPECT_THAT(run.Types(run.by_initiator),
              ElementsAre(FrameType::kDigestOffer, FrameType::kRecordChunk, FrameType::kPull,
                          FrameType::kSyncEnd));
  wire::Pull pull;
  pull.ParseFromString(run.by_initiator[2].body);
  EXPECT_THAT(pull.keys(), ElementsAre("k3"));
  EXPECT_EQ(a.Get("k3"), "newer");
  EXPECT_EQ(b.Get("k3"), "newer");
  EXPECT_EQ(a.BucketDigests(), b.BucketDigests());
  EXPECT_EQ(run.records_sent, 2u);  // k3 each way, nothing else
}

TEST(SyncSessionTest, AnEmptySideGetsTheWholeBucketWithoutKeyLists) {
  MapReplica a, b;
  for (int i = 0; i < 30; ++i) b.Put(absl::StrCat("k", i), "v", 1, "n1");
  const Exchange run = RunSession(a, b);
  EXPECT_TRUE(run.done);
  for (const Sent& s : run.by_responder) EXPECT_NE(s.type, FrameType::kBucketKeys);
  EXPECT_EQ(a.size(), 30u);
  EXPECT_EQ(a.BucketDigests(), b.BucketDigests());
  // And the other way: the responder has nothing, the initiator sends all.
  MapReplica c, d;
  for (int i = 0; i < 30; ++i) c.Put(absl::StrCat("k", i), "v", 1, "n1");
  EXPECT_TRUE(RunSession(c, d).done);
  EXPECT_EQ(d.size(), 30u);
}

TEST(SyncSessionTest, RecordsArePagedByChunkBytes) {
  MapReplica a(/*buckets=*/1), b(/*buckets=*/1);
  const std::string value(1000, 'x');
  for (int i = 0; i < 40; ++i) b.Put(absl::StrCat("k", i), value, 1, "n1");
  const Exchange run = RunSession(a, b, /*chunk_bytes=*/4000);
  EXPECT_TRUE(run.done);
  size_t chunks = 0;
  for (const Sent& s : run.by_responder) {
    if (s.type != FrameType::kRecordChunk) continue;
    ++chunks;
    // About chunk_bytes: stops at the first record past it.
    EXPECT_LT(s.body.size(), 4000u + 2 * 1100u);
  }
  EXPECT_GE(chunks, 8u);  // 40 KB in 4 KB pages
  EXPECT_EQ(a.size(), 40u);
  EXPECT_EQ(run.records_sent, 40u);
}

TEST(SyncSessionTest, ProduceStopsAtTheBudget) {
  MapReplica a(1), b(1);
  const std::string value(1000, 'x');
  for (int i = 0; i < 40; ++i) a.Put(absl::StrCat("k", i), value, 1, "n0");
  wire::DigestOffer offer;
  offer.set_session(1);
  offer.add_buckets(0);  // the initiator has nothing
  absl::StatusOr<SyncSession> s = SyncSession::Respond(offer, &a, 4000, 0);
  ASSERT_TRUE(s.ok());
  int frames = 0;
  int64_t budget = 1;  // one frame, then stop
  s->Produce([&](FrameType, const google::protobuf::MessageLite&) { ++frames; }, &budget);
  EXPECT_EQ(frames, 1);
  EXPECT_LE(budget, 0);
  EXPECT_TRUE(s->has_output());
}

TEST(SyncSessionTest, AnOfferOfAnotherBucketCountIsRefused) {
  MapReplica a(16);
  wire::DigestOffer offer;
  offer.add_buckets(0);
  EXPECT_EQ(SyncSession::Respond(offer, &a, 1000, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SyncSessionTest, ProtocolViolationsAreErrors) {
  MapReplica a(16);
  SyncSession init = SyncSession::Initiate(1, &a, 1000, 0);
  EXPECT_EQ(init.OnPull(wire::Pull()).code(), absl::StatusCode::kInvalidArgument);
  wire::BucketKeys out_of_range;
  out_of_range.set_bucket(16);
  EXPECT_EQ(init.OnBucketKeys(out_of_range).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(init.OnSyncEnd().ok());
  EXPECT_TRUE(init.OnSyncEnd().ok());
  EXPECT_EQ(init.OnSyncEnd().code(), absl::StatusCode::kInvalidArgument);  // a third
  wire::DigestOffer offer;
  for (int i = 0; i < 16; ++i) offer.add_buckets(0);
  absl::StatusOr<SyncSession> resp = SyncSession::Respond(offer, &a, 1000, 0);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->OnBucketKeys(wire::BucketKeys()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(resp->OnSyncEnd().ok());
  EXPECT_EQ(resp->OnSyncEnd().code(), absl::StatusCode::kInvalidArgument);  // a second
}

}  // namespace
}  // namespace meshkv::peer
