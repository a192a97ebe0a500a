#include "store/record.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Builds fragments and merges them, resolving values for assertions.
class RecordTest : public ::testing::Test {
 protected:
  Version V(uint64_t hlc, const std::string& origin) {
    return Version{hlc, origins_.Intern(origin)};
  }
  Fragment Bytes(Version v, absl::string_view value) {
    Fragment f;
    f.key = "k";
    f.kind = Kind::kBytes;
    f.version = v;
    f.bytes = value;
    return f;
  }
  Fragment Tombstone(Version v) {
    Fragment f;
    f.key = "k";
    f.kind = Kind::kTombstone;
    f.version = v;
    return f;
  }
  Fragment Mapping(Version v, std::vector<std::pair<absl::string_view, absl::string_view>> kv) {
    Fragment f;
    f.key = "k";
    f.kind = Kind::kMapping;
    f.version = v;
    for (auto [name, value] : kv) f.fields.push_back({name, value, v});
    return f;
  }
  Fragment Delta(Version v, std::vector<std::pair<absl::string_view, absl::string_view>> kv) {
    Fragment f;
    f.key = "k";
    f.delta_version = v;
    for (auto [name, value] : kv) f.fields.push_back({name, value, v});
    return f;
  }
  // A delta that removes `names` (field tombstones at `v`).
  Fragment Removal(Version v, std::vector<absl::string_view> names) {
    Fragment f;
    f.key = "k";
    f.delta_version = v;
    for (absl::string_view name : names) f.fields.push_back({name, "", v, /*removed=*/true});
    return f;
  }
  // Merges in order; a fragment that changes nothing keeps the record.
  RecordPtr Apply(std::vector<Fragment> fs) {
    RecordPtr r;
    for (const Fragment& f : fs) {
      RecordPtr next = MergeRecord(r.get(), f, origins_, ++revision_);
      if (next) r = next;
    }
    return r;
  }
  // The fields a reader sees: field tombstones skipped.
  static std::vector<std::pair<std::string, std::string>> Fields(const RecordPtr& r) {
    std::vector<std::pair<std::string, std::string>> out;
    if (r->fields() != nullptr) {
      for (const auto& [name, f] : *r->fields()) {
        if (!f.removed) out.emplace_back(name, f.value);
      }
    }
    return out;
  }
  // Names of the field tombstones a record keeps.
  static std::vector<std::string> Removed(const RecordPtr& r) {
    std::vector<std::string> out;
    if (r->fields() != nullptr) {
      for (const auto& [name, f] : *r->fields()) {
        if (f.removed) out.push_back(name);
      }
    }
    return out;
  }

  OriginTable origins_;
  uint64_t revision_ = 0;
};

TEST_F(RecordTest, NewerBytesWriteReplacesOlderIsIgnored) {
  RecordPtr r = Apply({Bytes(V(10, "a"), "one"), Bytes(V(20, "b"), "two")});
  EXPECT_EQ(r->bytes(), "two");
  EXPECT_EQ(origins_.Name(r->current_version().origin), "b");
  EXPECT_EQ(MergeRecord(r.get(), Bytes(V(15, "a"), "old"), origins_, 99), nullptr);
}

TEST_F(RecordTest, SameFragmentTwiceChangesNothing) {
  RecordPtr r = Apply({Bytes(V(10, "a"), "one")});
  EXPECT_EQ(MergeRecord(r.get(), Bytes(V(10, "a"), "one"), origins_, 2), nullptr);
}

TEST_F(RecordTest, EqualHlcIsWonByTheSmallerOrigin) {
  RecordPtr ab = Apply({Bytes(V(10, "node-b"), "b"), Bytes(V(10, "node-a"), "a")});
  RecordPtr ba = Apply({Bytes(V(10, "node-a"), "a"), Bytes(V(10, "node-b"), "b")});
  EXPECT_EQ(ab->bytes(), "a");
  EXPECT_EQ(ba->bytes(), "a");
}

TEST_F(RecordTest, TombstoneHidesTheValueAndBlocksOlderWrites) {
  RecordPtr r = Apply({Bytes(V(10, "a"), "v"), Tombstone(V(20, "a")), Bytes(V(15, "b"), "late")});
  EXPECT_FALSE(r->live());
  EXPECT_EQ(r->kind(), Kind::kTombstone);
}

TEST_F(RecordTest, DeltaMergesFieldsIntoAMapping) {
  RecordPtr r = Apply(
      {Mapping(V(10, "a"), {{"x", "1"}, {"y", "2"}}), Delta(V(20, "a"), {{"y", "3"}, {"z", "4"}})});
  ASSERT_TRUE(r->is_mapping());
  EXPECT_THAT(Fields(r), ElementsAre(Pair("x", "1"), Pair("y", "3"), Pair("z", "4")));
}

TEST_F(RecordTest, WholeWriteDropsOlderDeltasButKeepsNewerOnes) {
  // Delivered out of order: the deltas arrive before the set.
  RecordPtr r = Apply({Delta(V(5, "b"), {{"old", "x"}}), Delta(V(30, "b"), {{"new", "y"}}),
                       Mapping(V(20, "a"), {{"base", "z"}})});
  EXPECT_THAT(Fields(r), ElementsAre(Pair("base", "z"), Pair("new", "y")));
}

TEST_F(RecordTest, DeltaNewerThanABytesWriteMakesAMapping) {
  RecordPtr r = Apply({Bytes(V(10, "a"), "raw"), Delta(V(20, "b"), {{"f", "v"}})});
  EXPECT_TRUE(r->live());
  EXPECT_TRUE(r->is_mapping());
  EXPECT_THAT(Fields(r), ElementsAre(Pair("f", "v")));
  EXPECT_EQ(origins_.Name(r->current_version().origin), "b");
}

TEST_F(RecordTest, EmptyDeltaCreatesAnEmptyMapping) {
  RecordPtr r = Apply({Delta(V(10, "a"), {})});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->live());
  EXPECT_TRUE(r->is_mapping());
  EXPECT_EQ(r->fields(), nullptr);
}

TEST_F(RecordTest, PerFieldLastWriterWins) {
  RecordPtr r =
      Apply({Delta(V(20, "a"), {{"f", "new"}}), Delta(V(10, "b"), {{"f", "old"}, {"g", "1"}})});
  EXPECT_THAT(Fields(r), ElementsAre(Pair("f", "new"), Pair("g", "1")));
}

TEST_F(RecordTest, EveryOrderGivesTheSameRecord) {
  std::vector<Fragment> fs = {
      Bytes(V(10, "a"), "one"), Delta(V(12, "b"), {{"x", "1"}}), Mapping(V(11, "c"), {{"y", "2"}}),
      Tombstone(V(13, "a")),    Delta(V(14, "c"), {{"x", "3"}}), Delta(V(14, "b"), {{"z", "4"}}),
      Bytes(V(9, "b"), "old"),
  };
  std::vector<int> order(fs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  uint64_t digest = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  do {
    std::vector<Fragment> permuted;
    for (int i : order) permuted.push_back(fs[i]);
    RecordPtr r = Apply(permuted);
    if (digest == 0) {
      digest = RecordDigest(*r, origins_);
      fields = Fields(r);
    }
    EXPECT_EQ(RecordDigest(*r, origins_), digest);
    EXPECT_EQ(Fields(r), fields);
  } while (std::next_permutation(order.begin(), order.end()));
  // Tombstone at 13 dropped everything older; deltas at 14 survive.
  EXPECT_THAT(fields, ElementsAre(Pair("x", "3"), Pair("z", "4")));
}

TEST_F(RecordTest, RemovedFieldIsHiddenAndBlocksOlderWritesOfIt) {
  RecordPtr r = Apply({Mapping(V(10, "a"), {{"x", "1"}, {"y", "2"}}), Removal(V(20, "b"), {"x"}),
                       Delta(V(15, "c"), {{"x", "late"}})});
  EXPECT_TRUE(r->is_mapping());
  EXPECT_THAT(Fields(r), ElementsAre(Pair("y", "2")));  // the late write of x is older
  EXPECT_THAT(Removed(r), ElementsAre("x"));
  EXPECT_EQ(r->ValueBytes(), 2u);  // "y" + "2": the tombstone is not value
  EXPECT_EQ(r->RemovedFieldBytes(), 1u);
  EXPECT_EQ(origins_.Name(r->current_version().origin), "b");
}

TEST_F(RecordTest, NewerWriteOfARemovedFieldBringsItBack) {
  RecordPtr r = Apply({Removal(V(20, "a"), {"x"}), Delta(V(30, "b"), {{"x", "again"}})});
  EXPECT_THAT(Fields(r), ElementsAre(Pair("x", "again")));
  EXPECT_THAT(Removed(r), ElementsAre());
}

TEST_F(RecordTest, ConcurrentAddAndRemoveOfDifferentFieldsKeepBoth) {
  const Fragment base = Mapping(V(10, "a"), {{"x", "1"}});
  const Fragment add = Delta(V(20, "a"), {{"y", "2"}});
  const Fragment remove = Removal(V(20, "b"), {"x"});
  RecordPtr one = Apply({base, add, remove});
  RecordPtr two = Apply({base, remove, add});
  EXPECT_THAT(Fields(one), ElementsAre(Pair("y", "2")));
  EXPECT_THAT(Fields(two), ElementsAre(Pair("y", "2")));
  EXPECT_EQ(RecordDigest(*one, origins_), RecordDigest(*two, origins_));
}

TEST_F(RecordTest, ConcurrentAddAndRemoveOfOneFieldNewerWins) {
  const Fragment add = Delta(V(20, "b"), {{"x", "2"}});
  const Fragment remove = Removal(V(20, "a"), {"x"});  // same hlc: origin "a" is newer
  EXPECT_THAT(Fields(Apply({add, remove})), ElementsAre());
  EXPECT_THAT(Fields(Apply({remove, add})), ElementsAre());
  const Fragment later_add = Delta(V(21, "b"), {{"x", "3"}});
  EXPECT_THAT(Fields(Apply({later_add, remove})), ElementsAre(Pair("x", "3")));
  EXPECT_THAT(Fields(Apply({remove, later_add})), ElementsAre(Pair("x", "3")));
}

TEST_F(RecordTest, RemovingAFieldOfAnAbsentKeyCreatesAnEmptyMapping) {
  RecordPtr r = Apply({Removal(V(10, "a"), {"x"})});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->live());
  EXPECT_TRUE(r->is_mapping());
  EXPECT_THAT(Fields(r), ElementsAre());
}

TEST_F(RecordTest, WholeValueWriteDropsOlderFieldTombstones) {
  // How field tombstones are bounded: a Set or Delete newer than them drops
  // them, as it drops every older field write.
  RecordPtr r = Apply({Removal(V(10, "a"), {"x", "y"}), Removal(V(30, "a"), {"z"}),
                       Mapping(V(20, "a"), {{"base", "1"}})});
  EXPECT_THAT(Removed(r), ElementsAre("z"));
  r = Apply({Removal(V(10, "a"), {"x", "y"}), Tombstone(V(20, "a"))});
  EXPECT_FALSE(r->live());
  EXPECT_EQ(r->fields(), nullptr);
}

TEST_F(RecordTest, RemovalAtTheVersionOfASetWinsEitherWay) {
  // Only a forged write carries two writes of one field at one version;
  // the merge still gives one answer, whatever the order.
  RecordPtr one = Apply({Delta(V(20, "a"), {{"x", "1"}}), Removal(V(20, "a"), {"x"})});
  RecordPtr two = Apply({Removal(V(20, "a"), {"x"}), Delta(V(20, "a"), {{"x", "1"}})});
  EXPECT_THAT(Removed(one), ElementsAre("x"));
  EXPECT_EQ(RecordDigest(*one, origins_), RecordDigest(*two, origins_));
}

TEST_F(RecordTest, DigestTellsARemovedFieldFromASetOne) {
  RecordPtr set = Apply({Delta(V(20, "a"), {{"x", ""}})});
  RecordPtr removed = Apply({Removal(V(20, "a"), {"x"})});
  EXPECT_NE(RecordDigest(*set, origins_), RecordDigest(*removed, origins_));
}

TEST_F(RecordTest, EveryOrderGivesTheSameRecordWithRemovedFields) {
  std::vector<Fragment> fs = {
      Mapping(V(10, "a"), {{"x", "1"}, {"y", "2"}}),
      Removal(V(12, "b"), {"x"}),
      Delta(V(12, "c"), {{"x", "3"}, {"z", "4"}}),  // same hlc: "b" wins on x
      Removal(V(14, "c"), {"y", "w"}),
      Delta(V(15, "a"), {{"w", "5"}}),
      Mapping(V(11, "b"), {{"old", "6"}}),
      Removal(V(9, "a"), {"z"}),
  };
  std::vector<int> order(fs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  uint64_t digest = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::string> removed;
  do {
    std::vector<Fragment> permuted;
    for (int i : order) permuted.push_back(fs[i]);
    RecordPtr r = Apply(permuted);
    if (digest == 0) {
      digest = RecordDigest(*r, origins_);
      fields = Fields(r);
      removed = Removed(r);
    }
    EXPECT_EQ(RecordDigest(*r, origins_), digest);
    EXPECT_EQ(Fields(r), fields);
    EXPECT_EQ(Removed(r), removed);
    // Idempotent: merging any fragment again changes nothing.
    for (const Fragment& f : fs) EXPECT_EQ(MergeRecord(r.get(), f, origins_, 999), nullptr);
  } while (std::next_permutation(order.begin(), order.end()));
  // The mapping at 11 dropped everything older; x's removal at 12 wins its
  // tie; w's write at 15 supersedes its removal at 14.
  EXPECT_THAT(fields, ElementsAre(Pair("old", "6"), Pair("w", "5"), Pair("z", "4")));
  EXPECT_THAT(removed, ElementsAre("x", "y"));
}

}  // namespace
}  // namespace meshkv
