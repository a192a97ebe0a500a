// The campaign's checks, each shown to hold on a good history and to fail on
// one hand-made to violate it: the checks are not vacuous.
#include "tests/cluster/history.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

Write Set(std::string key, std::string value, Outcome outcome, int64_t ms, uint32_t replicas = 0) {
  Write w;
  w.key = std::move(key);
  w.value = std::move(value);
  w.node = "n0";
  w.owner = "n0";
  w.min_replicas = replicas;
  w.outcome = outcome;
  w.sent_ms = ms;
  w.timestamp_ms = ms;
  return w;
}

Write Delete(std::string key, Outcome outcome, int64_t ms) {
  Write w = Set(std::move(key), "", outcome, ms);
  w.value.reset();
  return w;
}

const auto kAll = [](const Write&) { return true; };

TEST(CheckConvergence, HoldsOnIdenticalStates) {
  State s = {{"k", {"v", "n0", 5}}};
  EXPECT_THAT(CheckConvergence({{"n0", s}, {"n1", s}, {"n2", s}}), IsEmpty());
}

TEST(CheckConvergence, FindsAMissingKeyAnExtraKeyAndDifferentMeta) {
  State a = {{"k", {"v", "n0", 5}}, {"gone", {"x", "n0", 1}}};
  State b = {{"k", {"v", "n0", 6}}, {"extra", {"y", "n1", 2}}};
  auto errors = CheckConvergence({{"n0", a}, {"n1", b}});
  EXPECT_THAT(errors, SizeIs(3));
  EXPECT_THAT(errors[0], HasSubstr("gone"));
  EXPECT_THAT(errors[1], HasSubstr("6 ms"));
  EXPECT_THAT(errors[2], HasSubstr("extra"));
}

TEST(CheckRefusedNeverAppear, FindsARefusedValueInStateAndInAWatch) {
  std::vector<Write> writes = {Set("k", "ok", Outcome::kAcknowledged, 1),
                               Set("k", "no", Outcome::kRefused, 2)};
  EXPECT_THAT(CheckRefusedNeverAppear(writes, {{"k", {"ok", "n0", 1}}}, {}), IsEmpty());
  WatchLog w;
  w.node = "n1";
  w.events = {{3, "k", false, {"no", "n1", 2}}};
  auto errors = CheckRefusedNeverAppear(writes, {{"k", {"no", "n1", 2}}}, {w});
  ASSERT_THAT(errors, SizeIs(2));
  EXPECT_THAT(errors[0], HasSubstr("final state"));
  EXPECT_THAT(errors[1], HasSubstr("watch event on n1"));
}

TEST(CheckAcknowledgedSurvive, AcceptsTheWriteANewerOneOrALaterDelete) {
  std::vector<Write> writes = {
      Set("a", "a1", Outcome::kAcknowledged, 1), Set("b", "b1", Outcome::kAcknowledged, 1),
      Set("b", "b2", Outcome::kUnknown, 2), Set("c", "c1", Outcome::kAcknowledged, 1),
      Delete("c", Outcome::kUnknown, 2), Delete("d", Outcome::kAcknowledged, 3),
      // Same owner, same millisecond: the clock's counter, not in Meta,
      // ordered them.
      Set("e", "e1", Outcome::kAcknowledged, 4), Set("e", "e2", Outcome::kAcknowledged, 4)};
  State final = {{"a", {"a1", "n0", 1}}, {"b", {"b2", "n0", 2}}, {"e", {"e2", "n0", 4}}};
  EXPECT_THAT(CheckAcknowledgedSurvive(writes, final, kAll), IsEmpty());
}

TEST(CheckAcknowledgedSurvive, FindsAnOlderValueAnAbsentKeyAndAnUndoneDelete) {
  std::vector<Write> writes = {
      Set("a", "a1", Outcome::kAcknowledged, 1), Set("a", "a2", Outcome::kAcknowledged, 2),
      Set("b", "b1", Outcome::kAcknowledged, 1), Delete("b", Outcome::kRefused, 2),
      Set("c", "c1", Outcome::kAcknowledged, 1), Delete("c", Outcome::kAcknowledged, 5),
      Set("e", "e1", Outcome::kAcknowledged, 4), Set("e", "e2", Outcome::kRefused, 4)};
  State final = {{"a", {"a1", "n0", 1}}, {"c", {"c1", "n0", 1}}, {"e", {"e2", "n0", 4}}};
  auto errors = CheckAcknowledgedSurvive(writes, final, kAll);
  ASSERT_THAT(errors, SizeIs(4));
  EXPECT_THAT(errors[3], HasSubstr("set e=e1"));
  EXPECT_THAT(errors[0], HasSubstr("set a=a2"));
  EXPECT_THAT(errors[1], HasSubstr("set b=b1"));
  EXPECT_THAT(errors[2], HasSubstr("delete c"));
}

TEST(CheckAcknowledgedSurvive, CountsOnlyTheWritesTheFilterSelects) {
  std::vector<Write> writes = {Set("a", "a0", Outcome::kAcknowledged, 1, 0),
                               Set("b", "b1", Outcome::kAcknowledged, 1, 1)};
  auto errors =
      CheckAcknowledgedSurvive(writes, {}, [](const Write& w) { return w.min_replicas >= 1; });
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0], HasSubstr("set b=b1"));
}

WatchLog Log(std::vector<WatchEvent> events) {
  WatchLog w;
  w.node = "n0";
  w.initial = {{"old", {"o", "n0", 1}}};
  w.start_revision = 10;
  w.events = std::move(events);
  w.complete = true;
  return w;
}

TEST(CheckWatches, HoldsWhenEventsReplayToTheFinalState) {
  WatchLog w = Log({{11, "k", false, {"v", "n0", 2}}, {12, "old", true, {}}});
  EXPECT_THAT(CheckWatches({w}, {{"n0", {{"k", {"v", "n0", 2}}}}}), IsEmpty());
}

TEST(CheckWatches, FindsADuplicateAnOutOfOrderEventAndAReplayThatDiffers) {
  WatchLog dup = Log({{11, "k", false, {"v", "n0", 2}}, {11, "k", false, {"v", "n0", 2}}});
  WatchLog order = Log({{12, "k", false, {"v", "n0", 2}}, {11, "j", false, {"w", "n0", 2}}});
  WatchLog stale = Log({{9, "k", false, {"v", "n0", 2}}});
  WatchLog missing = Log({});  // "k" appeared without an event
  const std::map<std::string, State> finals = {
      {"n0", {{"old", {"o", "n0", 1}}, {"k", {"v", "n0", 2}}}}};
  EXPECT_THAT(CheckWatches({dup}, finals),
              ElementsAre(HasSubstr("revision 11 (k) after revision 11")));
  EXPECT_THAT(CheckWatches({order}, finals),
              ElementsAre(HasSubstr("revision 11 (j) after revision 12"), HasSubstr("j")));
  EXPECT_THAT(CheckWatches({stale}, finals), ElementsAre(HasSubstr("after revision 10")));
  EXPECT_THAT(CheckWatches({missing}, finals), ElementsAre(HasSubstr("absent on watch")));
  missing.complete = false;  // cut short: only order is checked
  EXPECT_THAT(CheckWatches({missing}, finals), IsEmpty());
}

}  // namespace
}  // namespace meshkv::testing
