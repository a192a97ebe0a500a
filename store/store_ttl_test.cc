// Expiring keys (docs/design.md "Expiring keys"): a write's time to live, the
// expiry on read, the sweep and its events, refreshes, and how an expired
// record merges and hashes on nodes that have or have not swept it yet. Time
// is a ManualClock: nothing here sleeps.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/store.h"
#include "store/wire_convert.h"
#include "tests/util/commit_recorder.h"
#include "tests/util/status_matchers.h"

namespace meshkv {
namespace {

namespace wire = ::meshkv::mesh::v1;
using ::meshkv::testing::CommitRecorder;
using ::meshkv::testing::IsOkAndHolds;
using ::meshkv::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kStartMs = 1'700'000'000'000;

std::vector<WatchEvent> EventsAfter(const Store& s, uint64_t after) {
  std::vector<WatchEvent> events;
  uint64_t through = 0;
  EXPECT_TRUE(s.ReadEvents(after, "", 1000, SIZE_MAX, &events, &through).ok());
  return events;
}

class StoreTtlTest : public ::testing::Test {
 protected:
  static StoreOptions Options(std::string id, bool leasing = true) {
    StoreOptions o;
    o.node_id = std::move(id);
    o.leasing = leasing;
    return o;
  }
  // Delivers the last local operation's records to `to`, as the mesh does.
  void Deliver(Store& to) {
    for (const auto& w : out_.last()) ASSERT_TRUE(to.Merge(w).ok());
  }
  // Brings every record of `from` to `to`, as anti-entropy does.
  static void Sync(const Store& from, Store& to) {
    for (uint32_t bucket = 0; bucket < Store::kBuckets; ++bucket) {
      std::string after;
      bool done = false;
      while (!done) {
        std::vector<wire::Record> chunk;
        done = from.ExportBucket(bucket, after, 1 << 20, &chunk, &after);
        for (const auto& r : chunk) ASSERT_TRUE(to.Merge(r, CommitSource::kAntiEntropy).ok());
      }
    }
  }

  ManualClock clock_{kStartMs};
  CommitRecorder out_;
  Store a_{Options("node-a"), &clock_, {&out_}};
  Store b_{Options("node-b"), &clock_, {&out_}};
};

TEST_F(StoreTtlTest, SetWithTtlCarriesItsExpiryAndIsAbsentFromThen) {
  auto r = a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  const int64_t expires = r->changes[0].entry.timestamp_ms + 10'000;
  EXPECT_EQ(r->changes[0].entry.expires_ms, expires);
  EXPECT_EQ(out_.last()[0].expires_ms(), expires);
  clock_.SetMs(expires - 1);
  ASSERT_TRUE(a_.Get("k").has_value());
  EXPECT_EQ(a_.Get("k")->expires_ms, expires);
  EXPECT_EQ(a_.Count(""), 1u);
  clock_.SetMs(expires);
  // Absent to every read before any sweep ran.
  EXPECT_FALSE(a_.Get("k").has_value());
  EXPECT_EQ(a_.Count(""), 0u);
  EXPECT_TRUE(a_.List("", "", 10).entries.empty());
  EXPECT_THAT(a_.PopItem(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTtlTest, ASetWithoutTtlIsPermanentAndMakesAnExpiringKeyPermanent) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v")).ok());
  EXPECT_EQ(a_.Get("k")->expires_ms, 0);
  EXPECT_EQ(out_.last()[0].expires_ms(), 0);
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(1)).ok());
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("w")).ok());
  clock_.Advance(absl::Hours(2));
  a_.Maintain();
  EXPECT_EQ(a_.Get("k")->record->bytes(), "w");
  EXPECT_EQ(a_.Stats().keys_expired, 0u);
}

// Touch writes the whole value again: a removed field stays removed (its
// tombstone is dropped, not turned back into an empty field).
TEST_F(StoreTtlTest, TouchKeepsRemovedFieldsRemoved) {
  ASSERT_TRUE(a_.ApplyDelta("m", {{"a", "1"}, {"b", "2"}}).ok());
  ASSERT_TRUE(a_.ApplyDelta("m", {}, {}, {"b"}).ok());
  ASSERT_TRUE(a_.Touch("m", absl::Seconds(5)).ok());
  std::optional<Entry> e = a_.Get("m");
  ASSERT_TRUE(e.has_value());
  ASSERT_NE(e->record->fields(), nullptr);
  std::vector<std::string> names;
  for (const auto& [name, field] : *e->record->fields()) names.push_back(name);
  EXPECT_EQ(names, std::vector<std::string>{"a"});
}

TEST_F(StoreTtlTest, BadTtlsAreRefusedAndChangeNothing) {
  EXPECT_THAT(a_.Set("k", ValueView::Bytes("v"), {}, absl::Milliseconds(-1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative")));
  EXPECT_THAT(a_.Set("k", ValueView::Bytes("v"), {}, absl::Hours(24 * 365 * 11)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
  EXPECT_THAT(a_.ApplyDelta("k", {{"f", "1"}}, {}, {}, absl::Milliseconds(-5)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(a_.Update({{"k", ValueView::Bytes("v")}}, {}, {absl::Milliseconds(-1)}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(a_.Touch("k", absl::Milliseconds(-1)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(a_.revision(), Store::kEmptyRevision);
}

TEST_F(StoreTtlTest, TheSweepCommitsOneExpiredDeletePerKeyInExpiryOrder) {
  ASSERT_TRUE(a_.Set("late", ValueView::Bytes("1"), {}, absl::Seconds(3)).ok());
  ASSERT_TRUE(a_.Set("early", ValueView::Bytes("2"), {}, absl::Seconds(1)).ok());
  ASSERT_TRUE(a_.Set("never", ValueView::Bytes("3")).ok());
  const uint64_t before = a_.revision();
  EXPECT_EQ(a_.Stats().keys_with_ttl, 2u);
  EXPECT_EQ(a_.ExpireDue(100), 0u);  // nothing due yet
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(a_.ExpireDue(100), 2u);
  EXPECT_EQ(a_.ExpireDue(100), 0u);  // once
  std::vector<WatchEvent> events = EventsAfter(a_, before);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].entry.record->key(), "early");
  EXPECT_EQ(events[1].entry.record->key(), "late");
  for (const WatchEvent& e : events) {
    EXPECT_TRUE(e.is_delete());
    EXPECT_TRUE(e.expired());
    ASSERT_NE(e.prev, nullptr);
  }
  EXPECT_EQ(events[0].prev->bytes(), "2");
  EXPECT_EQ(out_.commits(CommitSource::kExpired), 2u);
  const StoreStats s = a_.Stats();
  EXPECT_EQ(s.keys_expired, 2u);
  EXPECT_EQ(s.keys_with_ttl, 0u);
  EXPECT_EQ(s.keys, 1u);
  EXPECT_EQ(s.tombstones, 2u);
  EXPECT_EQ(s.bytes, std::string("never").size() + 1);  // the values are freed
}

TEST_F(StoreTtlTest, ExpireDueSweepsAtMostMaxAndResumes) {
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(a_.Set(absl::StrCat("k", i), ValueView::Bytes("v"), {}, absl::Seconds(1)).ok());
  }
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(a_.ExpireDue(500), 500u);
  EXPECT_EQ(a_.ExpireDue(500), 100u);
  EXPECT_EQ(a_.Stats().keys, 0u);
}

TEST_F(StoreTtlTest, MaintainSweepsDueKeys) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(1)).ok());
  clock_.Advance(absl::Seconds(1));
  a_.Maintain();
  EXPECT_EQ(a_.Stats().keys_expired, 1u);
}

TEST_F(StoreTtlTest, AWriteToAnExpiredKeyFindsItAbsentAndComesAfterItsExpiryEvent) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("old"), {}, absl::Seconds(1)).ok());
  const uint64_t before = a_.revision();
  clock_.Advance(absl::Seconds(2));
  // No sweep has run: the write sweeps the key first.
  EXPECT_THAT(a_.Delete("k"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("new"), Precondition::Absent()).ok());
  std::vector<WatchEvent> events = EventsAfter(a_, before);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].expired());
  EXPECT_FALSE(events[1].is_delete());
  EXPECT_EQ(events[1].entry.record->bytes(), "new");
  EXPECT_EQ(events[1].prev, nullptr);  // it was absent
}

TEST_F(StoreTtlTest, AnExpiredKeyHasNoLease) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(30)).ok());
  Deliver(b_);
  EXPECT_EQ(b_.Get("k")->lease_expires_ms, b_.Get("k")->expires_ms);
  EXPECT_THAT(b_.Set("k", ValueView::Bytes("mine")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("node-a")));
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(b_.Set("k", ValueView::Bytes("mine")).ok());
  EXPECT_EQ(b_.Get("k")->owner, "node-b");
}

TEST_F(StoreTtlTest, TouchExtendsRemovesAndRefusesAsSetDoes) {
  EXPECT_THAT(a_.Touch("k", absl::Seconds(1)), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(10)).ok());
  clock_.Advance(absl::Seconds(9));
  auto t = a_.Touch("k", absl::Seconds(10));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->changes[0].entry.expires_ms, clock_.NowMs() + 10'000);
  clock_.Advance(absl::Seconds(9));
  ASSERT_TRUE(a_.Get("k").has_value());
  EXPECT_EQ(a_.Get("k")->record->bytes(), "v");
  // Another node may not touch the owner's key.
  Deliver(b_);
  EXPECT_THAT(b_.Touch("k", absl::Seconds(10)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("leased")));
  // ttl 0 removes the expiry.
  ASSERT_TRUE(a_.Touch("k", absl::ZeroDuration()).ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(a_.Get("k")->expires_ms, 0);
  clock_.Advance(absl::Hours(10));
  EXPECT_TRUE(a_.Get("k").has_value());
  // Touch of an expired key is NOT_FOUND.
  ASSERT_TRUE(a_.Set("e", ValueView::Bytes("v"), {}, absl::Seconds(1)).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(a_.Touch("e", absl::Seconds(1)), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTtlTest, TouchOfAMappingKeepsItsFields) {
  ASSERT_TRUE(a_.Set("m", ValueView::Mapping({{"a", "1"}}), {}, absl::Seconds(5)).ok());
  ASSERT_TRUE(a_.ApplyDelta("m", {{"b", "2"}}).ok());
  ASSERT_TRUE(a_.Touch("m", absl::Seconds(60)).ok());
  clock_.Advance(absl::Seconds(30));
  auto e = a_.Get("m");
  ASSERT_TRUE(e.has_value());
  ASSERT_NE(e->record->fields(), nullptr);
  EXPECT_EQ(e->record->fields()->size(), 2u);
}

TEST_F(StoreTtlTest, ApplyDeltaKeepsTheExpiryOrSetsANewOne) {
  ASSERT_TRUE(a_.Set("m", ValueView::Mapping({{"a", "1"}}), {}, absl::Seconds(5)).ok());
  const int64_t expires = a_.Get("m")->expires_ms;
  // Without a ttl the fields go with the key.
  ASSERT_TRUE(a_.ApplyDelta("m", {{"b", "2"}}).ok());
  EXPECT_EQ(a_.Get("m")->expires_ms, expires);
  clock_.SetMs(expires);
  EXPECT_FALSE(a_.Get("m").has_value());
  // Over the expired key, a delta creates the mapping afresh.
  ASSERT_TRUE(a_.ApplyDelta("m", {{"c", "3"}}).ok());
  auto e = a_.Get("m");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->expires_ms, 0);
  ASSERT_NE(e->record->fields(), nullptr);
  EXPECT_EQ(e->record->fields()->size(), 1u);
  EXPECT_EQ(e->record->fields()->begin()->first, "c");
  // With a ttl the whole mapping expires then.
  ASSERT_TRUE(a_.ApplyDelta("m", {{"d", "4"}}, {}, {}, absl::Seconds(2)).ok());
  EXPECT_EQ(a_.Get("m")->record->fields()->size(), 2u);
  clock_.Advance(absl::Seconds(2));
  EXPECT_FALSE(a_.Get("m").has_value());
}

TEST_F(StoreTtlTest, UpdateGivesEachItemItsOwnTtl) {
  ASSERT_TRUE(a_.Update({{"x", ValueView::Bytes("1")}, {"y", ValueView::Bytes("2")}}, {},
                        {absl::Seconds(1), absl::ZeroDuration()})
                  .ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(a_.Get("x").has_value());
  EXPECT_TRUE(a_.Get("y").has_value());
}

TEST_F(StoreTtlTest, ReplicasExpireTheKeyAtTheSameMomentWithoutAMessage) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(10)).ok());
  Deliver(b_);
  const int64_t expires = a_.Get("k")->expires_ms;
  EXPECT_EQ(b_.Get("k")->expires_ms, expires);
  clock_.SetMs(expires - 1);
  EXPECT_TRUE(b_.Get("k").has_value());
  clock_.SetMs(expires);
  EXPECT_FALSE(a_.Get("k").has_value());
  EXPECT_FALSE(b_.Get("k").has_value());
}

// The expired form keeps the versions: it hashes as the unswept record, and a
// write merges into either the same way.
TEST_F(StoreTtlTest, SweptAndUnsweptCopiesHashTheSameAndMergeAlike) {
  ASSERT_TRUE(a_.Set("m", ValueView::Mapping({{"a", "1"}}), {}, absl::Seconds(5)).ok());
  Deliver(b_);
  ASSERT_TRUE(a_.ApplyDelta("m", {{"b", "2"}}).ok());
  const wire::Record late_field = out_.last()[0];
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(5)).ok());
  Deliver(b_);
  EXPECT_NE(a_.BucketDigests(), b_.BucketDigests());  // b has not seen the delta yet
  ASSERT_TRUE(b_.Merge(late_field).ok());
  EXPECT_EQ(a_.BucketDigests(), b_.BucketDigests());
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(a_.ExpireDue(100), 2u);  // a sweeps, b does not
  EXPECT_EQ(a_.BucketDigests(), b_.BucketDigests());
  // The swept copy travels by anti-entropy to a fresh node: absent there too,
  // and the same digest.
  Store c(Options("node-c"), &clock_);
  Sync(a_, c);
  EXPECT_EQ(c.BucketDigests(), a_.BucketDigests());
  EXPECT_FALSE(c.Get("m").has_value());
  EXPECT_EQ(c.Stats().keys_expired, 0u);  // never live there
  // Either copy, brought to the other, changes nothing.
  EXPECT_THAT(b_.Merge([&] {
    wire::Record r;
    EXPECT_TRUE(a_.ExportKey("k", &r));
    return r;
  }()),
              IsOkAndHolds(false));
  // A stale field write arriving after the expiry keeps the key absent on
  // every copy, swept or not.
  wire::Record stale;
  stale.set_key("m");
  stale.set_kind(wire::Record::NONE);
  wire::Version v;
  v.set_hlc(HybridClock::FromWallMs(kStartMs + 1000));
  v.set_origin("node-z");
  *stale.mutable_delta_version() = v;
  wire::Field* f = stale.add_fields();
  f->set_name("z");
  f->set_value("zz");
  *f->mutable_version() = v;
  for (Store* s : {&a_, &b_, &c}) {
    ASSERT_TRUE(s->Merge(stale).ok());
    EXPECT_FALSE(s->Get("m").has_value());
  }
  b_.ExpireDue(100);
  EXPECT_EQ(a_.BucketDigests(), b_.BucketDigests());
  EXPECT_EQ(c.BucketDigests(), b_.BucketDigests());
}

// Found by the property test: field writes newer than an expired write keep
// their values, since a whole-value write between the two (here a delete
// that arrives late) makes them visible again.
TEST_F(StoreTtlTest, AFieldNewerThanAnExpiredWriteShowsUnderALateOlderDelete) {
  StoreOptions o = Options("node-a", /*leasing=*/false);
  Store a(o, &clock_, {&out_});
  o.node_id = "node-b";
  Store b(o, &clock_, {&out_});
  ASSERT_TRUE(a.Set("k", ValueView::Bytes("v"), {}, absl::Milliseconds(5)).ok());
  const wire::Record set = out_.last()[0];
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(b.Merge(set).ok());
  ASSERT_TRUE(b.Delete("k").ok());
  const wire::Record del = out_.last()[0];
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(b.ApplyDelta("k", {{"f", "1"}}).ok());
  const wire::Record delta = out_.last()[0];
  clock_.Advance(absl::Milliseconds(10));
  ASSERT_TRUE(a.Merge(delta).ok());  // into the expired write: absent
  EXPECT_FALSE(a.Get("k").has_value());
  a.ExpireDue(10);
  ASSERT_TRUE(a.Merge(del).ok());  // the delete, late: the field shows
  auto e = a.Get("k");
  ASSERT_TRUE(e.has_value());
  ASSERT_NE(e->record->fields(), nullptr);
  EXPECT_EQ(e->record->fields()->at("f").value, "1");
  EXPECT_EQ(a.BucketDigests(), b.BucketDigests());
}

TEST_F(StoreTtlTest, AWriteArrivingAlreadyExpiredIsStoredExpired) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(1)).ok());
  const wire::Record w = out_.last()[0];
  clock_.Advance(absl::Seconds(2));
  const uint64_t before = b_.revision();
  ASSERT_THAT(b_.Merge(w), IsOkAndHolds(true));
  EXPECT_FALSE(b_.Get("k").has_value());
  EXPECT_EQ(b_.Stats().keys_with_ttl, 0u);
  EXPECT_EQ(b_.Stats().bytes, 0u);
  // Nothing a watcher could see: absent before, absent after.
  EXPECT_TRUE(EventsAfter(b_, before).empty());
}

TEST_F(StoreTtlTest, ANewerWriteBringsAnExpiredKeyBackEverywhere) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("old"), {}, absl::Seconds(1)).ok());
  Deliver(b_);
  clock_.Advance(absl::Seconds(1));
  a_.ExpireDue(10);
  ASSERT_TRUE(b_.Set("k", ValueView::Bytes("new")).ok());
  Deliver(a_);
  EXPECT_EQ(a_.Get("k")->record->bytes(), "new");
  EXPECT_EQ(b_.Get("k")->record->bytes(), "new");
  EXPECT_EQ(a_.BucketDigests(), b_.BucketDigests());
}

TEST_F(StoreTtlTest, ExpiredKeysAreCollectedAfterTheRetentionFromTheirExpiry) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Hours(30)).ok());
  clock_.Advance(absl::Hours(30));
  a_.ExpireDue(10);
  EXPECT_EQ(a_.Stats().tombstones, 1u);
  for (uint32_t i = 0; i < Store::kBuckets; ++i) a_.Maintain();
  EXPECT_EQ(a_.Stats().tombstones, 1u);  // written 30 h ago, but expired just now
  clock_.Advance(absl::Hours(25));
  for (uint32_t i = 0; i < Store::kBuckets; ++i) a_.Maintain();
  EXPECT_EQ(a_.Stats().tombstones, 0u);
}

TEST_F(StoreTtlTest, MalformedExpiriesAreRefused) {
  wire::Record r;
  r.set_key("k");
  r.set_kind(wire::Record::BYTES);
  r.mutable_version()->set_hlc(HybridClock::FromWallMs(kStartMs));
  r.mutable_version()->set_origin("node-z");
  r.set_expires_ms(-1);
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r.set_kind(wire::Record::NONE);
  r.set_expires_ms(kStartMs + 10);
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(a_.revision(), Store::kEmptyRevision);
}

TEST_F(StoreTtlTest, RestoredRecordsKeepTheirExpiry) {
  ASSERT_TRUE(a_.Set("k", ValueView::Bytes("v"), {}, absl::Seconds(10)).ok());
  ASSERT_TRUE(a_.Set("gone", ValueView::Bytes("v"), {}, absl::Seconds(1)).ok());
  clock_.Advance(absl::Seconds(1));
  a_.ExpireDue(10);
  Store restored(Options("node-a"), &clock_);
  for (const char* key : {"k", "gone"}) {
    wire::Record r;
    ASSERT_TRUE(a_.ExportKey(key, &r));
    ASSERT_THAT(restored.Restore(r), IsOkAndHolds(true));
  }
  EXPECT_EQ(restored.Get("k")->expires_ms, a_.Get("k")->expires_ms);
  EXPECT_FALSE(restored.Get("gone").has_value());
  EXPECT_EQ(restored.BucketDigests(), a_.BucketDigests());
}

}  // namespace
}  // namespace meshkv
