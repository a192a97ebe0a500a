#include "server/watch_cursor.h"

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
