// The operations of kv.proto (docs/design.md, "Data model"), one by one, plus leases, history and
// the anti-entropy reads. "Another node" is a second Store whose writes are
// merged in, as the mesh would deliver them.
#include "store/store.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/commit_recorder.h"
#include "tests/util/status_matchers.h"

namespace meshkv {
namespace {

using ::meshkv::testing::CommitRecorder;
using ::meshkv::testing::IsOkAndHolds;
using ::meshkv::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr int64_t kStartMs = 1'700'000'000'000;
// The revision of an empty store; the first change is kR0 + 1.
constexpr uint64_t kR0 = Store::kEmptyRevision;

// Views of the caller's strings: each must outlive the call it is passed to.
ValueView BytesValue(absl::string_view b) { return ValueView::Bytes(b); }
FieldsView Delta(FieldsView fields) { return fields; }

// The fields a reader sees (field tombstones skipped).
std::vector<std::pair<std::string, std::string>> FieldsOf(const Entry& e) {
  std::vector<std::pair<std::string, std::string>> out;
  if (e.record->fields() != nullptr) {
    for (const auto& [name, f] : *e.record->fields()) {
      if (!f.removed) out.emplace_back(name, f.value);
    }
  }
  return out;
}

std::vector<std::string> Keys(const ListPage& page) {
  std::vector<std::string> keys;
  for (const Entry& e : page.entries) keys.emplace_back(e.record->key());
  return keys;
}

class StoreTest : public ::testing::Test {
 protected:
  static StoreOptions Options(std::string id, bool leasing = true) {
    StoreOptions o;
    o.node_id = std::move(id);
    o.leasing = leasing;
    return o;
  }

  // Delivers what the operation that returned `r` replicated to another
  // store, as the mesh does.
  void Deliver(const absl::StatusOr<WriteResult>& r, Store& to) {
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& w : out_.last()) ASSERT_THAT(to.Merge(w), IsOkAndHolds(true));
  }
  // The one record the last local operation replicated.
  meshkv::mesh::v1::Record Sent() {
    EXPECT_EQ(out_.last().size(), 1u);
    return out_.last().empty() ? meshkv::mesh::v1::Record() : out_.last()[0];
  }

  ManualClock clock_{kStartMs};
  CommitRecorder out_;  // every store of a test writes through it
  Store a_{Options("node-a"), &clock_, {&out_}};
  Store b_{Options("node-b"), &clock_, {&out_}};
};

// --- get / set ---------------------------------------------------------------

TEST_F(StoreTest, GetOfAnAbsentKeyIsNotFound) { EXPECT_FALSE(a_.Get("nope").has_value()); }

TEST_F(StoreTest, SetThenGetReturnsValueAndMeta) {
  auto r = a_.Set("k", BytesValue("v"));
  ASSERT_TRUE(r.ok()) << r.status();
  std::optional<Entry> e = a_.Get("k");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->record->bytes(), "v");
  EXPECT_EQ(e->owner, "node-a");
  EXPECT_EQ(e->timestamp_ms, kStartMs);
  EXPECT_EQ(e->record->revision(), kR0 + 1);
  EXPECT_EQ(e->lease_expires_ms, kStartMs + 3600 * 1000);
  EXPECT_EQ(a_.revision(), kR0 + 1);
  EXPECT_EQ(Sent().key(), "k");
}

TEST_F(StoreTest, UnicodeKeysAreJustBytes) {
  ASSERT_TRUE(a_.Set("测试", BytesValue("成功")).ok());
  EXPECT_EQ(a_.Get("测试")->record->bytes(), "成功");
}

TEST_F(StoreTest, SetRefusesBadInputAndChangesNothing) {
  StoreOptions o = Options("node-a");
  o.max_key_bytes = 8;
  o.max_value_bytes = 16;
  Store s(o, &clock_, {&out_});
  EXPECT_THAT(s.Set("", BytesValue("v")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.Set("123456789", BytesValue("v")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit is 8")));
  EXPECT_THAT(s.Set("k", BytesValue(std::string(17, 'x'))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.Set("k", ValueView()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(s.revision(), kR0);
  EXPECT_FALSE(s.Get("k").has_value());
}

TEST_F(StoreTest, SetOfAMappingStoresItsFields) {
  ASSERT_TRUE(a_.Set("m", ValueView::Mapping({{"b", "2"}, {"a", "1"}})).ok());
  EXPECT_THAT(FieldsOf(*a_.Get("m")), ElementsAre(Pair("a", "1"), Pair("b", "2")));
}

TEST_F(StoreTest, RepeatedFieldNamesAreRefused) {
  EXPECT_THAT(a_.Set("m", ValueView::Mapping({{"a", "1"}, {"a", "2"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(a_.ApplyDelta("m", Delta({{"a", "1"}, {"a", "2"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_FALSE(a_.Get("m").has_value());
}

// --- delete ----------------------------------------------------------------

TEST_F(StoreTest, DeleteOfAnAbsentKeyIsNotFound) {
  EXPECT_THAT(a_.Delete("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTest, DeleteRemovesTheKeyAndReportsIt) {
  ASSERT_TRUE(a_.Set("k", BytesValue("v")).ok());
  auto r = a_.Delete("k");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes[0].prev.record->bytes(), "v");
  EXPECT_FALSE(r->changes[0].entry.record->live());
  EXPECT_EQ(r->changes[0].entry.lease_expires_ms, 0);  // the delete relinquished it
  EXPECT_FALSE(a_.Get("k").has_value());
  EXPECT_THAT(a_.Delete("k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(a_.Stats().tombstones, 1u);
  EXPECT_EQ(a_.Stats().keys, 0u);
}

// --- update ------------------------------------------------------------------

TEST_F(StoreTest, UpdateWritesEveryKey) {
  auto r = a_.Update({{"x", BytesValue("1")}, {"y", BytesValue("2")}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes.size(), 2u);
  EXPECT_EQ(a_.Get("x")->record->bytes(), "1");
  EXPECT_EQ(a_.Get("y")->record->bytes(), "2");
}

TEST_F(StoreTest, UpdateIsAllOrNothingWhenOneKeyIsLeasedByAnother) {
  Deliver(b_.Set("theirs", BytesValue("b")), a_);
  const uint64_t rev = a_.revision();
  EXPECT_THAT(a_.Update({{"mine", BytesValue("1")}, {"theirs", BytesValue("1")}}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("node-b")));
  EXPECT_FALSE(a_.Get("mine").has_value());
  EXPECT_EQ(a_.Get("theirs")->record->bytes(), "b");
  EXPECT_EQ(a_.revision(), rev);
}

TEST_F(StoreTest, UpdateRefusesARepeatedKey) {
  EXPECT_THAT(a_.Update({{"x", BytesValue("1")}, {"x", BytesValue("1")}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_FALSE(a_.Get("x").has_value());
}

// --- apply_delta -------------------------------------------------------------

TEST_F(StoreTest, ApplyDeltaCreatesAMappingWhenAbsent) {
  auto r = a_.ApplyDelta("m", Delta({{"a", "1"}}));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(FieldsOf(*a_.Get("m")), ElementsAre(Pair("a", "1")));
}

TEST_F(StoreTest, ApplyDeltaWithNoFieldsCreatesAnEmptyMapping) {
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({})).ok());
  std::optional<Entry> e = a_.Get("m");
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->record->is_mapping());
  EXPECT_TRUE(FieldsOf(*e).empty());
}

TEST_F(StoreTest, ApplyDeltaMergesIntoTheMapping) {
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({{"a", "1"}, {"b", "2"}})).ok());
  auto r = a_.ApplyDelta("m", Delta({{"b", "3"}, {"c", "4"}}));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(FieldsOf(r->changes[0].entry),
              ElementsAre(Pair("a", "1"), Pair("b", "3"), Pair("c", "4")));
}

TEST_F(StoreTest, ApplyDeltaOnBytesIsFailedPrecondition) {
  ASSERT_TRUE(a_.Set("k", BytesValue("raw")).ok());
  const uint64_t rev = a_.revision();
  EXPECT_THAT(a_.ApplyDelta("k", Delta({{"a", "1"}})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("bytes")));
  EXPECT_EQ(a_.Get("k")->record->bytes(), "raw");
  EXPECT_EQ(a_.revision(), rev);
}

TEST_F(StoreTest, ApplyDeltaRefusesAMappingOverTheLimit) {
  StoreOptions o = Options("node-a");
  o.max_value_bytes = 10;
  Store s(o, &clock_, {&out_});
  ASSERT_TRUE(s.ApplyDelta("m", Delta({{"a", "1234"}})).ok());       // 5 bytes
  ASSERT_TRUE(s.ApplyDelta("m", Delta({{"a", "123456789"}})).ok());  // replaces: 10
  EXPECT_THAT(s.ApplyDelta("m", Delta({{"b", "1"}})), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(StoreTest, ApplyDeltaRemovesFields) {
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({{"a", "1"}, {"b", "2"}})).ok());
  auto r = a_.ApplyDelta("m", Delta({{"c", "3"}}), {}, {"a", "never-there"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(FieldsOf(r->changes[0].entry), ElementsAre(Pair("b", "2"), Pair("c", "3")));
  EXPECT_THAT(FieldsOf(*a_.Get("m")), ElementsAre(Pair("b", "2"), Pair("c", "3")));
  // The tombstones' names count too (they take memory until a whole-value
  // write drops them).
  EXPECT_EQ(a_.Stats().bytes, std::string("m"
                                          "b2"
                                          "c3"
                                          "a"
                                          "never-there")
                                  .size());
  // Replicated as field tombstones: another node (which missed the first
  // write) hides them too.
  Deliver(r, b_);
  EXPECT_THAT(FieldsOf(*b_.Get("m")), ElementsAre(Pair("c", "3")));
}

TEST_F(StoreTest, ApplyDeltaRefusesAFieldBothSetAndRemoved) {
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({{"a", "1"}})).ok());
  const uint64_t rev = a_.revision();
  EXPECT_THAT(a_.ApplyDelta("m", Delta({{"a", "2"}}), {}, {"a"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"a\"")));
  EXPECT_THAT(a_.ApplyDelta("m", Delta({}), {}, {"b", "b"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("removed twice")));
  EXPECT_EQ(a_.revision(), rev);
  EXPECT_THAT(FieldsOf(*a_.Get("m")), ElementsAre(Pair("a", "1")));
}

TEST_F(StoreTest, RemoveFieldsOnBytesIsFailedPrecondition) {
  ASSERT_TRUE(a_.Set("k", BytesValue("raw")).ok());
  EXPECT_THAT(a_.ApplyDelta("k", Delta({}), {}, {"a"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("bytes")));
  EXPECT_EQ(a_.Get("k")->record->bytes(), "raw");
}

TEST_F(StoreTest, RemoveFieldsIsLeaseChecked) {
  auto r = b_.ApplyDelta("m", Delta({{"a", "1"}}));
  Deliver(r, a_);
  EXPECT_THAT(a_.ApplyDelta("m", Delta({}), {}, {"a"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("leased by node-b")));
  EXPECT_THAT(FieldsOf(*a_.Get("m")), ElementsAre(Pair("a", "1")));
}

TEST_F(StoreTest, FieldTombstonesCountAgainstTheValueLimit) {
  // Removing keeps the name until a whole-value write: the limit bounds the
  // tombstones a mapping can gather, and a Set clears them.
  StoreOptions o = Options("node-a");
  o.max_value_bytes = 10;
  Store s(o, &clock_, {&out_});
  ASSERT_TRUE(s.ApplyDelta("m", Delta({}), {}, {"aaaa", "bbbb"}).ok());  // 8 bytes of names
  EXPECT_THAT(s.ApplyDelta("m", Delta({}), {}, {"ccc"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("11 bytes")));
  ASSERT_TRUE(s.ApplyDelta("m", Delta({{"aaaa", "12"}})).ok());  // the name is reused: 10
  ASSERT_TRUE(s.Set("m", ValueView::Mapping({})).ok());
  EXPECT_EQ(s.Get("m")->record->RemovedFieldBytes(), 0u);
  EXPECT_TRUE(s.ApplyDelta("m", Delta({}), {}, {"ccc"}).ok());
}

TEST_F(StoreTest, FieldTombstonesTravelInStateTransfer) {
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({{"a", "1"}, {"b", "2"}})).ok());
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({}), {}, {"a"}).ok());
  meshkv::mesh::v1::Record state;
  ASSERT_TRUE(a_.ExportKey("m", &state));
  ASSERT_THAT(b_.Merge(state, CommitSource::kAntiEntropy), IsOkAndHolds(true));
  EXPECT_THAT(FieldsOf(*b_.Get("m")), ElementsAre(Pair("b", "2")));
  EXPECT_EQ(b_.BucketDigests(), a_.BucketDigests());
  // The tombstone still wins over an older write of the field arriving late.
  meshkv::mesh::v1::Record late;
  late.set_key("m");
  late.mutable_delta_version()->set_hlc(1);
  late.mutable_delta_version()->set_origin("node-c");
  meshkv::mesh::v1::Field* f = late.add_fields();
  f->set_name("a");
  f->set_value("late");
  *f->mutable_version() = late.delta_version();
  ASSERT_TRUE(b_.Merge(late).ok());
  EXPECT_THAT(FieldsOf(*b_.Get("m")), ElementsAre(Pair("b", "2")));
}

TEST_F(StoreTest, MalformedFieldTombstoneIsRefused) {
  meshkv::mesh::v1::Record w;
  w.set_key("m");
  w.mutable_delta_version()->set_hlc(clock_.NowMs() << 16);
  w.mutable_delta_version()->set_origin("node-c");
  meshkv::mesh::v1::Field* f = w.add_fields();
  f->set_name("a");
  f->set_removed(true);
  f->set_value("a tombstone has no value");
  *f->mutable_version() = w.delta_version();
  EXPECT_THAT(a_.Merge(w), StatusIs(absl::StatusCode::kInvalidArgument));
  f->clear_value();
  f->clear_version();
  w.set_kind(meshkv::mesh::v1::Record::MAPPING);
  *w.mutable_version() = w.delta_version();
  EXPECT_THAT(a_.Merge(w), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(a_.Get("m").has_value());
}

TEST_F(StoreTest, WatchEventOfARemovalShowsTheMappingWithoutTheField) {
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({{"a", "1"}, {"b", "2"}})).ok());
  const uint64_t rev = a_.revision();
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({}), {}, {"a"}).ok());
  std::vector<WatchEvent> events;
  uint64_t through = 0;
  ASSERT_TRUE(a_.ReadEvents(rev, "", 10, SIZE_MAX, &events, &through).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].is_delete());
  EXPECT_THAT(FieldsOf(events[0].entry), ElementsAre(Pair("b", "2")));
}

// --- delete prefix -------------------------------------------------------------

TEST_F(StoreTest, DeletePrefixDeletesEveryKeyUnderItInOneOperation) {
  for (const char* k : {"app/a", "app/b", "app/c", "apple", "other"}) {
    ASSERT_TRUE(a_.Set(k, BytesValue(k)).ok());
  }
  ASSERT_TRUE(a_.Delete("app/c").ok());  // a tombstone is not deleted again
  const uint64_t rev = a_.revision();
  auto r = a_.DeletePrefix("app/", 100);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->changes.size(), 2u);
  EXPECT_EQ(r->changes[0].prev.record->key(), "app/a");
  EXPECT_EQ(r->changes[1].prev.record->key(), "app/b");
  EXPECT_EQ(r->changes[1].prev.record->bytes(), "app/b");
  EXPECT_FALSE(r->changes[0].entry.record->live());
  EXPECT_EQ(out_.last().size(), 2u);  // replicated as one operation of two deletes
  EXPECT_THAT(Keys(a_.List("", "", 100)), ElementsAre("apple", "other"));
  // One change, and so one watch event, per key, in key order.
  std::vector<WatchEvent> events;
  uint64_t through = 0;
  ASSERT_TRUE(a_.ReadEvents(rev, "", 10, SIZE_MAX, &events, &through).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].is_delete());
  EXPECT_EQ(events[0].entry.record->revision(), rev + 1);
  EXPECT_EQ(events[1].entry.record->key(), "app/b");
}

TEST_F(StoreTest, DeletePrefixOfNothingIsAnEmptyResult) {
  ASSERT_TRUE(a_.Set("k", BytesValue("v")).ok());
  const uint64_t rev = a_.revision();
  auto r = a_.DeletePrefix("nothing/", 100);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->changes.empty());
  EXPECT_EQ(a_.revision(), rev);
}

TEST_F(StoreTest, DeletePrefixIsAllOrNothingWhenOneKeyIsLeasedByAnother) {
  ASSERT_TRUE(a_.Set("p/mine", BytesValue("1")).ok());
  Deliver(b_.Set("p/theirs", BytesValue("2")), a_);
  const uint64_t rev = a_.revision();
  EXPECT_THAT(a_.DeletePrefix("p/", 100),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"p/theirs\""), HasSubstr("leased by node-b"))));
  EXPECT_EQ(a_.revision(), rev);
  EXPECT_TRUE(a_.Get("p/mine").has_value());
  // With leasing off, the merge alone decides: any node may delete.
  Store x(Options("node-x", /*leasing=*/false), &clock_, {&out_});
  Store y(Options("node-y", /*leasing=*/false), &clock_, {&out_});
  Deliver(y.Set("p/theirs", BytesValue("2")), x);
  auto r = x.DeletePrefix("p/", 100);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes.size(), 1u);
}

TEST_F(StoreTest, DeletePrefixOverTheLimitDeletesNothingAndSaysHowMany) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a_.Set(absl::StrCat("p/", i), BytesValue("v")).ok());
  const uint64_t rev = a_.revision();
  EXPECT_THAT(a_.DeletePrefix("p/", 4),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("5 keys under prefix \"p/\""), HasSubstr("limit of 4"),
                             HasSubstr("longer prefixes"))));
  EXPECT_EQ(a_.revision(), rev);
  EXPECT_EQ(a_.Count("p/"), 5u);
  EXPECT_TRUE(a_.DeletePrefix("p/", 5).ok());  // exactly the limit is fine
  EXPECT_EQ(a_.Count("p/"), 0u);
}

TEST_F(StoreTest, DeletePrefixWithAnEmptyPrefixDeletesEveryKey) {
  ASSERT_TRUE(a_.Set("a", BytesValue("1")).ok());
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({{"f", "1"}})).ok());
  auto r = a_.DeletePrefix("", 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes.size(), 2u);
  EXPECT_EQ(a_.Count(""), 0u);
}

TEST_F(StoreTest, DeletePrefixRefusesAPrefixLongerThanAnyKey) {
  const std::string prefix(a_.options().max_key_bytes + 1, 'p');
  EXPECT_THAT(a_.DeletePrefix(prefix, 10), StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- pop / popitem -------------------------------------------------------------

TEST_F(StoreTest, PopReturnsTheValueAndDeletesIt) {
  ASSERT_TRUE(a_.Set("k", BytesValue("v")).ok());
  auto r = a_.Pop("k");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes[0].prev.record->bytes(), "v");
  EXPECT_FALSE(a_.Get("k").has_value());
  EXPECT_THAT(a_.Pop("k"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTest, PopItemPopsTheFirstKeyThisNodeMayDelete) {
  Deliver(b_.Set("a-theirs", BytesValue("b")), a_);
  ASSERT_TRUE(a_.Set("c-mine", BytesValue("2")).ok());
  ASSERT_TRUE(a_.Set("b-mine", BytesValue("1")).ok());
  auto r = a_.PopItem();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes[0].prev.record->key(), "b-mine");
  ASSERT_TRUE(a_.PopItem().ok());
  EXPECT_THAT(a_.PopItem(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(a_.Get("a-theirs").has_value());
}

TEST_F(StoreTest, PopItemOnAnEmptyStoreIsNotFound) {
  EXPECT_THAT(a_.PopItem(), StatusIs(absl::StatusCode::kNotFound));
}

// --- list ----------------------------------------------------------------------

TEST_F(StoreTest, ListIsInKeyOrderWithPrefixLimitAndResume) {
  for (const char* k : {"b/2", "a/1", "b/1", "c", "b/3", "b"}) {
    ASSERT_TRUE(a_.Set(k, BytesValue(k)).ok());
  }
  ASSERT_TRUE(a_.Delete("b/2").ok());
  EXPECT_THAT(Keys(a_.List("", "", 100)), ElementsAre("a/1", "b", "b/1", "b/3", "c"));
  EXPECT_THAT(Keys(a_.List("b/", "", 100)), ElementsAre("b/1", "b/3"));
  ListPage first = a_.List("", "", 2);
  EXPECT_THAT(Keys(first), ElementsAre("a/1", "b"));
  EXPECT_TRUE(first.more);
  EXPECT_EQ(first.revision, a_.revision());
  ListPage rest = a_.List("", "b", 100);
  EXPECT_THAT(Keys(rest), ElementsAre("b/1", "b/3", "c"));
  EXPECT_FALSE(rest.more);
  EXPECT_THAT(Keys(a_.List("b/", "a", 100)), ElementsAre("b/1", "b/3"));
  EXPECT_THAT(Keys(a_.List("b/", "b/3", 100)), ElementsAre());
}

TEST_F(StoreTest, ListAcrossManyKeysIsSorted) {
  std::vector<std::string> want;
  for (int i = 0; i < 2000; ++i) {
    std::string k = absl::StrCat("key-", 100000 + i * 7919 % 2000);
    ASSERT_TRUE(a_.Set(k, BytesValue("v")).ok());
  }
  std::vector<std::string> got;
  std::string after;
  for (;;) {
    ListPage p = a_.List("key-", after, 333);
    for (auto& k : Keys(p)) got.push_back(k);
    if (!p.more) break;
    after = got.back();
  }
  ASSERT_EQ(got.size(), 2000u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
}

// --- leases ----------------------------------------------------------------------

TEST_F(StoreTest, AnotherOwnersLeaseRefusesWritesAndNamesOwnerAndExpiry) {
  Deliver(b_.Set("k", BytesValue("b")), a_);
  auto refused = a_.Set("k", BytesValue("a"));
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("node-b"), HasSubstr("2023-11-14T23:13:20"))));
  EXPECT_THAT(a_.Delete("k"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(a_.Pop("k"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(a_.ApplyDelta("k", Delta({})), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(a_.Get("k")->record->bytes(), "b");
  EXPECT_EQ(a_.Stats().lease_refusals, 4u);
}

TEST_F(StoreTest, TheOwnerRenewsItsLease) {
  ASSERT_TRUE(a_.Set("k", BytesValue("1")).ok());
  clock_.Advance(absl::Minutes(30));
  ASSERT_TRUE(a_.Set("k", BytesValue("2")).ok());
  EXPECT_EQ(a_.Get("k")->lease_expires_ms, kStartMs + 90 * 60 * 1000);
  StoreStats s = a_.Stats();
  EXPECT_EQ(s.leases_acquired[0], 1u);
  EXPECT_EQ(s.leases_renewed[0], 1u);
  EXPECT_EQ(s.leases_active[0], 1);
}

TEST_F(StoreTest, LeaseExpiresAfterTheConfiguredDuration) {
  StoreOptions o = Options("node-a");
  o.lease_duration = absl::Minutes(5);
  Store a(o, &clock_, {&out_});
  Deliver(b_.Set("k", BytesValue("b")), a);
  clock_.Advance(absl::Minutes(5) - absl::Milliseconds(1));
  EXPECT_THAT(a.Set("k", BytesValue("a")), StatusIs(absl::StatusCode::kFailedPrecondition));
  clock_.Advance(absl::Milliseconds(1));
  a.Maintain();
  EXPECT_EQ(a.Stats().leases_expired[1], 1u);
  EXPECT_EQ(a.Stats().leases_active[1], 0);
  ASSERT_TRUE(a.Set("k", BytesValue("a")).ok());
  EXPECT_EQ(a.Get("k")->owner, "node-a");
}

TEST_F(StoreTest, DeleteRelinquishesTheLease) {
  Deliver(b_.Set("k", BytesValue("b")), a_);
  Deliver(b_.Delete("k"), a_);
  ASSERT_TRUE(a_.Set("k", BytesValue("a")).ok());
  EXPECT_EQ(a_.Get("k")->owner, "node-a");
  EXPECT_EQ(a_.Stats().leases_active[1], 0);
}

TEST_F(StoreTest, EqualHlcIsWonByTheSmallerNodeId) {
  // Both write at the same millisecond, each with a fresh clock: equal hlc.
  Store z(Options("node-z", false), &clock_, {&out_});
  Store y(Options("node-y", false), &clock_, {&out_});
  ASSERT_TRUE(z.Set("k", BytesValue("z")).ok());
  const meshkv::mesh::v1::Record from_z = Sent();
  ASSERT_TRUE(y.Set("k", BytesValue("y")).ok());
  const meshkv::mesh::v1::Record from_y = Sent();
  ASSERT_EQ(from_z.version().hlc(), from_y.version().hlc());
  ASSERT_TRUE(z.Merge(from_y).ok());
  ASSERT_TRUE(y.Merge(from_z).ok());
  EXPECT_EQ(z.Get("k")->record->bytes(), "y");
  EXPECT_EQ(y.Get("k")->record->bytes(), "y");
}

TEST_F(StoreTest, WithLeasingOffAnyNodeWritesAnyKey) {
  Store a(Options("node-a", false), &clock_, {&out_});
  Store b(Options("node-b", false), &clock_, {&out_});
  Deliver(b.Set("k", BytesValue("b")), a);
  ASSERT_TRUE(a.Set("k", BytesValue("a")).ok());
  EXPECT_EQ(a.Get("k")->lease_expires_ms, 0);
  ASSERT_TRUE(a.ApplyDelta("m", Delta({{"x", "1"}})).ok());
  EXPECT_EQ(a.Stats().leases_active[0], 0);
}

TEST_F(StoreTest, RemoteWritesAreMergedWithoutLeaseChecks) {
  // b wrote k before it saw a's lease: both writes entered legitimately.
  ASSERT_TRUE(a_.Set("k", BytesValue("a")).ok());
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(b_.Set("k", BytesValue("b")).ok());
  ASSERT_THAT(a_.Merge(Sent()), IsOkAndHolds(true));
  EXPECT_EQ(a_.Get("k")->record->bytes(), "b");
  EXPECT_EQ(a_.Get("k")->owner, "node-b");
}

// --- replication input -------------------------------------------------------------

TEST_F(StoreTest, MergeRefusesMalformedRecords) {
  meshkv::mesh::v1::Record r;
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // no key
  r.set_key("k");
  r.set_kind(meshkv::mesh::v1::Record::BYTES);
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // no version
  r.mutable_version()->set_hlc(5);
  r.mutable_version()->set_origin("x");
  r.set_kind(static_cast<meshkv::mesh::v1::Record::Kind>(42));
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(a_.revision(), kR0);
}

TEST_F(StoreTest, MergingTheSameRecordTwiceIsANoOp) {
  ASSERT_TRUE(b_.Set("k", BytesValue("b")).ok());
  const meshkv::mesh::v1::Record w = Sent();
  EXPECT_THAT(a_.Merge(w), IsOkAndHolds(true));
  EXPECT_THAT(a_.Merge(w), IsOkAndHolds(false));
  EXPECT_EQ(a_.revision(), kR0 + 1);
}

// --- history ----------------------------------------------------------------------

TEST_F(StoreTest, EventsReplayChangesAfterARevision) {
  ASSERT_TRUE(a_.Set("w/a", BytesValue("1")).ok());
  ASSERT_TRUE(a_.Set("other", BytesValue("x")).ok());
  ASSERT_TRUE(a_.Set("w/a", BytesValue("2")).ok());
  ASSERT_TRUE(a_.Delete("w/a").ok());
  std::vector<WatchEvent> events;
  uint64_t through = 0;
  ASSERT_TRUE(a_.ReadEvents(kR0 + 1, "w/", 100, SIZE_MAX, &events, &through).ok());
  EXPECT_EQ(through, kR0 + 4);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].entry.record->bytes(), "2");
  EXPECT_EQ(events[0].prev->bytes(), "1");
  EXPECT_EQ(events[0].entry.record->revision(), kR0 + 3);
  EXPECT_TRUE(events[1].is_delete());
  EXPECT_EQ(events[1].prev->bytes(), "2");
}

TEST_F(StoreTest, ListAndEventsAreBoundedByBytes) {
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(a_.Set(absl::StrCat("k", i), BytesValue(std::string(100, 'x'))).ok());
  ListPage page = a_.List("", "", 100, 250);
  EXPECT_EQ(page.entries.size(), 3u);
  EXPECT_TRUE(page.more);
  EXPECT_EQ(a_.List("", "", 100, 1).entries.size(), 1u);
  std::vector<WatchEvent> events;
  uint64_t through = 0;
  ASSERT_TRUE(a_.ReadEvents(kR0, "", 100, 250, &events, &through).ok());
  EXPECT_EQ(events.size(), 3u);
  EXPECT_EQ(through, kR0 + 3);
}

TEST_F(StoreTest, EventsOlderThanTheHistoryAreOutOfRange) {
  StoreOptions o = Options("node-a");
  o.history_max_events = 3;
  Store s(o, &clock_, {&out_});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.Set("k", BytesValue(absl::StrCat(i))).ok());
  std::vector<WatchEvent> events;
  uint64_t through = 0;
  EXPECT_THAT(s.ReadEvents(kR0 + 1, "", 10, SIZE_MAX, &events, &through),
              StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_TRUE(s.ReadEvents(kR0 + 2, "", 10, SIZE_MAX, &events, &through).ok());
  EXPECT_EQ(events.size(), 3u);
  // A revision this node has not reached: from another node, most likely.
  EXPECT_THAT(s.ReadEvents(kR0 + 6, "", 10, SIZE_MAX, &events, &through),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("ahead")));
}

TEST_F(StoreTest, ReadEventsStopsAtMaxAndResumes) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a_.Set(absl::StrCat("k", i), BytesValue("v")).ok());
  std::vector<WatchEvent> events;
  uint64_t through = 0;
  ASSERT_TRUE(a_.ReadEvents(kR0, "", 2, SIZE_MAX, &events, &through).ok());
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(through, kR0 + 2);
  ASSERT_TRUE(a_.ReadEvents(through, "", 10, SIZE_MAX, &events, &through).ok());
  EXPECT_EQ(events.size(), 5u);
  EXPECT_EQ(through, kR0 + 5);
}

// --- anti-entropy reads and tombstones ------------------------------------------------

TEST_F(StoreTest, ExportedStateMergedElsewhereGivesEqualDigests) {
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(a_.Set(absl::StrCat("k", i), BytesValue("v")).ok());
  ASSERT_TRUE(a_.ApplyDelta("m", Delta({{"f", "1"}})).ok());
  ASSERT_TRUE(a_.Delete("k7").ok());
  EXPECT_NE(a_.BucketDigests(), b_.BucketDigests());
  for (uint32_t bucket = 0; bucket < Store::kBuckets; ++bucket) {
    std::string after;
    bool done = false;
    while (!done) {
      std::vector<meshkv::mesh::v1::Record> chunk;
      done = a_.ExportBucket(bucket, after, 256, &chunk, &after);
      for (const auto& r : chunk) ASSERT_TRUE(b_.Merge(r).ok());
    }
  }
  EXPECT_EQ(a_.BucketDigests(), b_.BucketDigests());
  EXPECT_FALSE(b_.Get("k7").has_value());
  EXPECT_EQ(b_.Get("k8")->owner, "node-a");
  const uint32_t bucket = Store::BucketOf("k8");
  EXPECT_EQ(a_.BucketKeys(bucket), b_.BucketKeys(bucket));
}

// A node whose clock runs far ahead (or a hostile peer) must not drag this
// node's hybrid clock into the future: its record waits until the clocks agree.
TEST_F(StoreTest, ARecordFromTooFarAheadIsRefusedUntilTheClockCatchesUp) {
  ManualClock ahead{kStartMs + 2 * 60 * 1000};
  Store c(Options("node-c"), &ahead, {&out_});
  ASSERT_TRUE(c.Set("k", BytesValue("from the future")).ok());
  const meshkv::mesh::v1::Record w = Sent();
  EXPECT_THAT(a_.Merge(w), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  HasSubstr("ahead of this node's clock")));
  EXPECT_FALSE(a_.Get("k").has_value());
  EXPECT_EQ(a_.revision(), kR0);
  // This node's own writes still carry its own time.
  ASSERT_TRUE(a_.Set("mine", BytesValue("now")).ok());
  EXPECT_EQ(a_.Get("mine")->timestamp_ms, kStartMs);

  clock_.Advance(absl::Minutes(1) + absl::Seconds(1));
  EXPECT_THAT(a_.Merge(w), IsOkAndHolds(true));
  EXPECT_EQ(a_.Get("k")->record->bytes(), "from the future");

  // The largest hybrid clock reading there is: refused, nothing overflows.
  meshkv::mesh::v1::Record hostile = w;
  hostile.set_key("hostile");
  hostile.mutable_version()->set_hlc(~uint64_t{0});
  EXPECT_THAT(a_.Merge(hostile), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_TRUE(a_.Set("hostile", BytesValue("still writable")).ok());
}

TEST_F(StoreTest, TombstonesAreCollectedAfterTheRetention) {
  StoreOptions o = Options("node-a");
  o.tombstone_retention = absl::Hours(1);
  Store s(o, &clock_, {&out_});
  ASSERT_TRUE(s.Set("k", BytesValue("v")).ok());
  ASSERT_TRUE(s.Delete("k").ok());
  const meshkv::mesh::v1::Record del = Sent();
  clock_.Advance(absl::Hours(1) + absl::Seconds(1));
  for (uint32_t i = 0; i < Store::kBuckets; ++i) s.Maintain();
  EXPECT_EQ(s.Stats().tombstones, 0u);
  EXPECT_EQ(s.BucketDigests(), std::vector<uint64_t>(Store::kBuckets, 0));
  // The old tombstone arriving again is not stored again.
  EXPECT_THAT(s.Merge(del), IsOkAndHolds(false));
}

TEST_F(StoreTest, StatsCountKeysBytesAndTombstones) {
  ASSERT_TRUE(a_.Set("ab", BytesValue("123")).ok());
  ASSERT_TRUE(a_.Set("cd", BytesValue("4")).ok());
  ASSERT_TRUE(a_.Delete("cd").ok());
  StoreStats s = a_.Stats();
  EXPECT_EQ(s.keys, 1u);
  EXPECT_EQ(s.bytes, 5u);
  EXPECT_EQ(s.tombstones, 1u);
  EXPECT_EQ(s.revision, kR0 + 3);
}

// --- preconditions (conditional writes) ---------------------------------------

Precondition VersionOf(const Store& s, absl::string_view key, std::string* origin) {
  std::optional<Entry> e = s.Get(key);
  *origin = e->owner;
  return Precondition::AtVersion(e->record->current_version().hlc, *origin);
}

TEST_F(StoreTest, SetIfAbsentCreatesOnceThenFailsNamingTheVersion) {
  ASSERT_TRUE(a_.Set("k", BytesValue("1"), Precondition::Absent()).ok());
  const uint64_t rev = a_.revision();
  absl::StatusOr<WriteResult> r = a_.Set("k", BytesValue("2"), Precondition::Absent());
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("/node-a, not absent"));
  EXPECT_EQ(a_.Get("k")->record->bytes(), "1");
  EXPECT_EQ(a_.revision(), rev);  // nothing changed
  // Deleted is absent again.
  ASSERT_TRUE(a_.Delete("k").ok());
  EXPECT_TRUE(a_.Set("k", BytesValue("3"), Precondition::Absent()).ok());
}

TEST_F(StoreTest, SetIfVersionSucceedsOnlyOnTheCurrentVersion) {
  ASSERT_TRUE(a_.Set("k", BytesValue("1")).ok());
  std::string origin;
  const Precondition v1 = VersionOf(a_, "k", &origin);
  ASSERT_TRUE(a_.Set("k", BytesValue("2"), v1).ok());
  absl::StatusOr<WriteResult> stale = a_.Set("k", BytesValue("3"), v1);
  EXPECT_THAT(stale, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(stale.status().message()), ::testing::HasSubstr("is at version"));
  EXPECT_EQ(a_.Get("k")->record->bytes(), "2");
  // The same hlc with another origin is another write.
  EXPECT_THAT(a_.Set("k", BytesValue("3"), Precondition::AtVersion(v1.hlc, "node-b")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<WriteResult> absent = a_.Set("nope", BytesValue("x"), v1);
  EXPECT_THAT(absent, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(absent.status().message()), ::testing::HasSubstr("is absent"));
  EXPECT_FALSE(a_.Get("nope").has_value());
}

TEST_F(StoreTest, DeleteAndApplyDeltaHonourPreconditions) {
  ASSERT_TRUE(a_.Set("k", BytesValue("1")).ok());
  std::string origin;
  const Precondition v1 = VersionOf(a_, "k", &origin);
  EXPECT_THAT(a_.Delete("k", Precondition::Absent()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(a_.Delete("gone", v1), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(a_.Delete("gone"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_TRUE(a_.Delete("k", v1).ok());
  EXPECT_FALSE(a_.Get("k").has_value());

  ASSERT_TRUE(a_.ApplyDelta("m", {{"f", "1"}}, Precondition::Absent()).ok());
  EXPECT_THAT(a_.ApplyDelta("m", {{"f", "2"}}, Precondition::Absent()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  const Precondition m1 = VersionOf(a_, "m", &origin);
  ASSERT_TRUE(a_.ApplyDelta("m", {{"g", "1"}}, m1).ok());
  EXPECT_THAT(a_.ApplyDelta("m", {{"h", "1"}}, m1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(a_.Get("m")->record->fields()->size(), 2u);
}

TEST_F(StoreTest, UpdateWithOneFailedPreconditionWritesNothing) {
  ASSERT_TRUE(a_.Set("x", BytesValue("1")).ok());
  const uint64_t rev = a_.revision();
  absl::StatusOr<WriteResult> r = a_.Update({{"y", BytesValue("2")}, {"x", BytesValue("2")}},
                                            {Precondition::Absent(), Precondition::Absent()});
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("\"x\""));
  EXPECT_FALSE(a_.Get("y").has_value());
  EXPECT_EQ(a_.revision(), rev);
  EXPECT_THAT(a_.Update({{"y", BytesValue("2")}}, {Precondition::Absent(), Precondition()}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(a_.Update({{"y", BytesValue("2")}, {"x", BytesValue("2")}},
                        {Precondition::Absent(), Precondition()})
                  .ok());
}

TEST_F(StoreTest, AVersionReadOnOneNodeMatchesOnAnother) {
  // Leasing off: node b may write what a wrote, conditioned on a's version.
  StoreOptions o = Options("node-b");
  o.leasing = false;
  Store b(o, &clock_);
  ASSERT_TRUE(a_.Set("k", BytesValue("1")).ok());
  ASSERT_THAT(b.Merge(Sent()), IsOkAndHolds(true));
  std::string origin;
  const Precondition v = VersionOf(a_, "k", &origin);
  EXPECT_TRUE(b.Set("k", BytesValue("2"), v).ok());
  EXPECT_THAT(b.Set("k", BytesValue("3"), v), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(StoreTest, WithLeasingOffTwoNodesMayEachAcceptAConditionalWriteAndTheMergeKeepsOne) {
  Store a(Options("node-a", /*leasing=*/false), &clock_, {&out_});
  Store b(Options("node-b", /*leasing=*/false), &clock_, {&out_});
  ASSERT_TRUE(a.Set("k", BytesValue("0")).ok());
  ASSERT_THAT(b.Merge(Sent()), IsOkAndHolds(true));
  std::string origin;
  const Precondition v = VersionOf(a, "k", &origin);
  // Both check against the version they hold: atomic per node only.
  ASSERT_TRUE(a.Set("k", BytesValue("from-a"), v).ok());
  const meshkv::mesh::v1::Record from_a = Sent();
  ASSERT_TRUE(b.Set("k", BytesValue("from-b"), v).ok());
  const meshkv::mesh::v1::Record from_b = Sent();
  ASSERT_TRUE(a.Merge(from_b).ok());
  ASSERT_TRUE(b.Merge(from_a).ok());
  EXPECT_EQ(a.Get("k")->record->bytes(), b.Get("k")->record->bytes());
}

TEST_F(StoreTest, CountCountsLiveKeysUnderAPrefix) {
  ASSERT_TRUE(
      a_.Update({{"a/1", BytesValue("1")}, {"a/2", BytesValue("1")}, {"b/1", BytesValue("1")}})
          .ok());
  ASSERT_TRUE(a_.Delete("a/2").ok());
  uint64_t rev = 0;
  EXPECT_EQ(a_.Count("a/", &rev), 1u);
  EXPECT_EQ(rev, a_.revision());
  EXPECT_EQ(a_.Count(""), 2u);
  EXPECT_EQ(a_.Count("c"), 0u);
}

// --- lease release (meshkv leases release) --------------------------------------

TEST_F(StoreTest, ReleasingANodesLeasesLetsOthersWriteItsKeys) {
  Deliver(b_.Set("k", BytesValue("b")), a_);
  Deliver(b_.Set("j", BytesValue("b")), a_);
  ASSERT_THAT(a_.Set("k", BytesValue("a")), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_EQ(a_.Stats().leases_active[1], 2);
  clock_.Advance(absl::Seconds(1));
  absl::StatusOr<LeaseReleaseResult> r = a_.ReleaseLeases("node-b");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->keys, 2);
  // Nothing of the data changed: the value and owner stay until written.
  EXPECT_EQ(a_.Get("k")->record->bytes(), "b");
  EXPECT_EQ(a_.Get("k")->owner, "node-b");
  EXPECT_EQ(a_.Get("k")->lease_expires_ms, kStartMs + 1000);
  StoreStats s = a_.Stats();
  EXPECT_EQ(s.leases_active[1], 0);
  EXPECT_EQ(s.leases_released, 2u);
  EXPECT_EQ(s.keys, 2u);
  EXPECT_EQ(s.tombstones, 0u);
  EXPECT_TRUE(a_.LeaseHolders().empty());
  ASSERT_TRUE(a_.Set("k", BytesValue("a")).ok());
  EXPECT_EQ(a_.Get("k")->owner, "node-a");
  // The release is invisible to reads.
  EXPECT_THAT(Keys(a_.List("", "", 10)), ElementsAre("j", "k"));
  EXPECT_EQ(a_.Count(""), 2u);
  EXPECT_FALSE(a_.Get("").has_value());
}

TEST_F(StoreTest, AReleaseReplicatesAndVoidsLeasesWhateverTheOrder) {
  Store c(Options("node-c"), &clock_, {&out_});
  absl::StatusOr<WriteResult> w = b_.Set("k", BytesValue("b"));
  ASSERT_TRUE(w.ok());
  const meshkv::mesh::v1::Record write = Sent();
  Deliver(w, a_);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(a_.ReleaseLeases("node-b").ok());
  const meshkv::mesh::v1::Record release = Sent();
  EXPECT_EQ(release.kind(), meshkv::mesh::v1::Record::LEASE_RELEASE);
  // c hears of the release before the write it voids.
  ASSERT_THAT(c.Merge(release), IsOkAndHolds(true));
  ASSERT_THAT(c.Merge(write), IsOkAndHolds(true));
  ASSERT_THAT(c.Merge(release), IsOkAndHolds(false));  // idempotent
  EXPECT_EQ(c.Stats().leases_active[1], 0);
  EXPECT_TRUE(c.Set("k", BytesValue("c")).ok());
  // b's own writes after the release lease as usual.
  ASSERT_THAT(b_.Merge(release), IsOkAndHolds(true));
  clock_.Advance(absl::Seconds(1));
  Deliver(b_.Set("n", BytesValue("b")), a_);
  EXPECT_THAT(a_.Set("n", BytesValue("a")), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(a_.LeaseHolders(), ::testing::SizeIs(1));
  EXPECT_EQ(a_.LeaseHolders()[0].node_id, "node-b");
  EXPECT_EQ(a_.LeaseHolders()[0].keys, 1);
}

TEST_F(StoreTest, ReleasesMergeAsPerNodeRegistersAndTravelByAntiEntropy) {
  Store c(Options("node-c"), &clock_, {&out_});
  ASSERT_TRUE(a_.ReleaseLeases("node-x").ok());
  const meshkv::mesh::v1::Record from_a = Sent();
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(b_.ReleaseLeases("node-x").ok());
  const meshkv::mesh::v1::Record from_b = Sent();
  ASSERT_TRUE(b_.ReleaseLeases("node-y").ok());
  const meshkv::mesh::v1::Record from_b2 = Sent();
  for (const auto* r : {&from_b2, &from_a, &from_b}) ASSERT_TRUE(c.Merge(*r).ok());
  for (const auto* r : {&from_a, &from_b, &from_b2}) ASSERT_TRUE(a_.Merge(*r).ok());
  EXPECT_EQ(a_.BucketDigests(), c.BucketDigests());
  meshkv::mesh::v1::Record state;
  ASSERT_TRUE(c.ExportKey("", &state));
  ASSERT_EQ(state.fields_size(), 2);
  EXPECT_EQ(state.fields(0).name(), "node-x");
  EXPECT_EQ(state.fields(0).version().hlc(), from_b.fields(0).version().hlc());
  // Anti-entropy carries it to a store that missed every flood, even with
  // a chunk budget smaller than the record.
  Store d(Options("node-d"), &clock_);
  const uint32_t bucket = Store::BucketOf("");
  std::string after;
  for (bool done = false; !done;) {
    std::vector<meshkv::mesh::v1::Record> chunk;
    done = c.ExportBucket(bucket, after, 1, &chunk, &after);
    for (const auto& r : chunk) ASSERT_TRUE(d.Merge(r).ok());
  }
  EXPECT_EQ(c.BucketDigests(), d.BucketDigests());
  EXPECT_EQ(c.BucketKeys(bucket), d.BucketKeys(bucket));
}

TEST_F(StoreTest, AReleaseSurvivesTheTombstoneCollector) {
  ASSERT_TRUE(a_.ReleaseLeases("node-x").ok());
  clock_.Advance(absl::Hours(25));
  for (uint32_t i = 0; i < Store::kBuckets; ++i) a_.Maintain();
  meshkv::mesh::v1::Record state;
  EXPECT_TRUE(a_.ExportKey("", &state));
  EXPECT_EQ(a_.Stats().tombstones, 0u);
}

TEST_F(StoreTest, ReleaseRefusesItselfBadIdsAndLeasingOff) {
  EXPECT_THAT(a_.ReleaseLeases("node-a"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("this node")));
  EXPECT_THAT(a_.ReleaseLeases(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(a_.ReleaseLeases(std::string(300, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Store off(Options("node-o", false), &clock_);
  EXPECT_THAT(off.ReleaseLeases("node-b"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(a_.revision(), kR0);
}

TEST_F(StoreTest, MalformedReleasesAreRefused) {
  meshkv::mesh::v1::Record r;
  r.set_kind(meshkv::mesh::v1::Record::LEASE_RELEASE);
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // no fields
  r.set_key("k");
  auto* f = r.add_fields();
  f->set_name("node-x");
  f->mutable_version()->set_hlc(1);
  f->mutable_version()->set_origin("node-b");
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // non-empty key
  r.clear_key();
  f->set_name("");
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // no node
  f->set_name("node-x");
  f->clear_version();
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // no version
  f->mutable_version()->set_hlc(1);
  f->mutable_version()->set_origin("node-b");
  f->set_value("x");
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // a value
  f->clear_value();
  f->set_removed(true);
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // a removal
  f->set_removed(false);
  // No peer grows the record (kept forever) past what ReleaseLeases writes.
  for (size_t i = 0; i < Store::kMaxLeaseReleases; ++i) {
    auto* more = r.add_fields();
    more->set_name(absl::StrCat("gone-", i));
    *more->mutable_version() = f->version();
  }
  EXPECT_THAT(a_.Merge(r), StatusIs(absl::StatusCode::kInvalidArgument));  // too many nodes
  meshkv::mesh::v1::Record bytes;
  bytes.set_kind(meshkv::mesh::v1::Record::BYTES);
  bytes.mutable_version()->set_hlc(1);
  bytes.mutable_version()->set_origin("node-b");
  EXPECT_THAT(a_.Merge(bytes), StatusIs(absl::StatusCode::kInvalidArgument));  // empty key
  EXPECT_EQ(a_.revision(), kR0);
}

// --- the data quota (--max-data-bytes) --------------------------------------------

// Removing fields that never existed stores their names (field tombstones):
// the quota counts them, so remove-only deltas cannot fill memory past it.
TEST_F(StoreTest, TheQuotaCountsTheNamesOfRemovedFields) {
  StoreOptions o = Options("node-q");
  o.max_data_bytes = 100;
  Store q(o, &clock_, {&out_});
  ASSERT_TRUE(q.ApplyDelta("m", Delta({}), {}, {std::string(40, 'a')}).ok());
  EXPECT_EQ(q.Stats().bytes, 41u);
  ASSERT_TRUE(q.ApplyDelta("n", Delta({}), {}, {std::string(40, 'b')}).ok());
  EXPECT_THAT(q.ApplyDelta("p", Delta({}), {}, {std::string(40, 'c')}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(q.Stats().bytes, 82u);
}

TEST_F(StoreTest, TheQuotaRefusesLocalWritesThatWouldGrowTheDataPastIt) {
  StoreOptions o = Options("node-q");
  o.max_data_bytes = 100;
  Store q(o, &clock_, {&out_});
  ASSERT_TRUE(q.Set("k", BytesValue(std::string(49, 'v'))).ok());  // 50 bytes
  EXPECT_THAT(q.Set("j", BytesValue(std::string(50, 'v'))),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       ::testing::AllOf(HasSubstr("holds 50 bytes"), HasSubstr("add 51"),
                                        HasSubstr("--max-data-bytes 100"))));
  EXPECT_THAT(q.Update({{"a", BytesValue("1")}, {"b", BytesValue(std::string(60, 'v'))}}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(q.ApplyDelta("m", Delta({{"f", std::string(60, 'v')}})),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(q.Get("j").has_value());
  EXPECT_FALSE(q.Get("a").has_value());
  EXPECT_EQ(q.Stats().quota_refusals, 3u);
  // Up to the quota exactly, and replacing a value by one as large, pass.
  ASSERT_TRUE(q.Set("j", BytesValue(std::string(49, 'v'))).ok());
  EXPECT_EQ(q.Stats().bytes, 100u);
  ASSERT_TRUE(q.Set("j", BytesValue(std::string(49, 'w'))).ok());
  EXPECT_THAT(q.Set("x", BytesValue("")), StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_TRUE(q.Delete("k").ok());
  ASSERT_TRUE(q.Set("x", BytesValue("")).ok());
}

TEST_F(StoreTest, ReplicatedWritesAreAppliedBeyondTheQuotaWhichThenRefusesOnlyGrowth) {
  StoreOptions o = Options("node-q");
  o.max_data_bytes = 100;
  Store q(o, &clock_, {&out_});
  ASSERT_TRUE(q.Set("mine", BytesValue(std::string(36, 'q'))).ok());  // 40 bytes
  Deliver(b_.Set("big", BytesValue(std::string(150, 'b'))), q);
  EXPECT_EQ(q.Stats().bytes, 193u);  // over the quota: replicas must agree
  ASSERT_TRUE(q.Get("big").has_value());
  EXPECT_THAT(q.Set("k", BytesValue("v")), StatusIs(absl::StatusCode::kResourceExhausted));
  // Shrinking is always allowed, even over the quota; so are deletes.
  ASSERT_TRUE(q.Set("mine", BytesValue("q")).ok());
  ASSERT_TRUE(q.Delete("mine").ok());
  Deliver(b_.Set("big", BytesValue("b")), q);
  EXPECT_TRUE(q.Set("k", BytesValue("v")).ok());
}

}  // namespace
}  // namespace meshkv
