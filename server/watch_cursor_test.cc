#include "server/watch_cursor.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"

namespace meshkv {
namespace {

using ::meshkv::testing::StatusIs;

std::vector<std::string> Keys(const std::vector<WatchEvent>& events) {
  std::vector<std::string> keys;
  for (const WatchEvent& e : events) keys.emplace_back(e.entry.record->key());
  return keys;
}

class WatchCursorTest : public ::testing::Test {
 protected:
  StoreOptions Options() {
    StoreOptions o;
    o.node_id = "n1";
    o.history_max_events = 4;
    return o;
  }
  Store store_{Options(), Clock::Real()};
};

TEST_F(WatchCursorTest, FromNowReadsOnlyLaterChangesUnderItsPrefix) {
  ASSERT_TRUE(store_.Set("a/1", ValueView::Bytes("before")).ok());
  absl::StatusOr<WatchCursor> c = WatchCursor::Open(&store_, "a/", 0);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->revision(), store_.revision());
  ASSERT_TRUE(store_.Set("b/1", ValueView::Bytes("x")).ok());
  ASSERT_TRUE(store_.Set("a/2", ValueView::Bytes("x")).ok());
  std::vector<WatchEvent> events;
  ASSERT_TRUE(c->Next(10, 1 << 20, &events).ok());
  EXPECT_THAT(Keys(events), ::testing::ElementsAre("a/2"));
  EXPECT_EQ(c->revision(), store_.revision());
  EXPECT_EQ(c->LagBehind(store_.revision()), 0u);
}

TEST_F(WatchCursorTest, MovesPastChangesOutsideItsPrefix) {
  absl::StatusOr<WatchCursor> c = WatchCursor::Open(&store_, "a/", 0);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(store_.Set("b/1", ValueView::Bytes("x")).ok());
  EXPECT_EQ(c->LagBehind(store_.revision()), 1u);
  std::vector<WatchEvent> events;
  ASSERT_TRUE(c->Next(10, 1 << 20, &events).ok());
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(c->revision(), store_.revision());
}

TEST_F(WatchCursorTest, AFilterReadsPastBatchesItLeavesEmpty) {
  StoreOptions o = Options();
  o.history_max_events = 100;
  Store store(o, Clock::Real());
  absl::StatusOr<WatchCursor> deletes = WatchCursor::Open(&store, "", 0, WatchFilter::kDeletes);
  absl::StatusOr<WatchCursor> updates = WatchCursor::Open(&store, "", 0, WatchFilter::kUpdates);
  ASSERT_TRUE(deletes.ok() && updates.ok());
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store.Set(absl::StrCat("k", i), ValueView::Bytes("x")).ok());
  ASSERT_TRUE(store.Delete("k3").ok());
  std::vector<WatchEvent> events;
  // Batches of 2: five of them hold only updates before the delete.
  ASSERT_TRUE(deletes->Next(2, 1 << 20, &events).ok());
  EXPECT_THAT(Keys(events), ::testing::ElementsAre("k3"));
  EXPECT_TRUE(events[0].is_delete());
  EXPECT_EQ(deletes->revision(), store.revision());
  events.clear();
  ASSERT_TRUE(deletes->Next(2, 1 << 20, &events).ok());
  EXPECT_TRUE(events.empty());
  ASSERT_TRUE(updates->Next(20, 1 << 20, &events).ok());
  EXPECT_EQ(events.size(), 10u);
  for (const WatchEvent& e : events) EXPECT_FALSE(e.is_delete());
  EXPECT_EQ(updates->revision(), store.revision());
}

TEST_F(WatchCursorTest, AStartBeforeTheHistoryIsOutOfRange) {
  const uint64_t start = store_.revision();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store_.Set("k", ValueView::Bytes("x")).ok());
  EXPECT_THAT(WatchCursor::Open(&store_, "", start).status(),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(WatchCursorTest, ACursorTheHistoryMovedPastFails) {
  absl::StatusOr<WatchCursor> c = WatchCursor::Open(&store_, "", 0);
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store_.Set("k", ValueView::Bytes("x")).ok());
  std::vector<WatchEvent> events;
  EXPECT_THAT(c->Next(10, 1 << 20, &events), StatusIs(absl::StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace meshkv
