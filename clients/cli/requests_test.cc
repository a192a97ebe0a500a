// What each command puts on the wire for its flags, without a server: the
// server implements some of these fields only as other work lands, so the
// requests are checked here and the behaviour in cli_test.cc where it runs.
#include "clients/cli/requests.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Invocation Parse(const std::vector<std::string>& args) {
  Invocation inv = ParseArgs(args, kDefaultAddr);
  EXPECT_THAT(inv.error, IsEmpty());
  return inv;
}

TEST(BuildSetTest, PlainSetIsUnconditionalWithoutTtlOrConcern) {
  std::istringstream in;
  const meshkv::v1::SetRequest req = BuildSet(Parse({"set", "k", "v"}), in);
  EXPECT_EQ(req.key(), "k");
  EXPECT_EQ(req.value().bytes(), "v");
  EXPECT_FALSE(req.has_precondition());
  EXPECT_EQ(req.ttl_ms(), 0);
  EXPECT_EQ(req.min_replicas(), 0u);
}

TEST(BuildSetTest, IfAbsentIfVersionTtlAndReplicas) {
  std::istringstream in;
  meshkv::v1::SetRequest req = BuildSet(Parse({"set", "--if-absent", "k", "v"}), in);
  ASSERT_TRUE(req.has_precondition());
  EXPECT_TRUE(req.precondition().absent());

  req = BuildSet(Parse({"set", "--if-version", "1733300000000123/10.0.0.1:4444", "--ttl", "1.5s",
                        "--replicas", "2", "k", "v"}),
                 in);
  ASSERT_TRUE(req.precondition().has_version());
  EXPECT_EQ(req.precondition().version().hlc(), 1733300000000123u);
  EXPECT_EQ(req.precondition().version().origin(), "10.0.0.1:4444");
  EXPECT_EQ(req.ttl_ms(), 1500);
  EXPECT_EQ(req.min_replicas(), 2u);
}

TEST(BuildSetTest, StdinAndMapping) {
  std::istringstream in(std::string("a\0b\n", 4));
  EXPECT_EQ(BuildSet(Parse({"set", "k", "-"}), in).value().bytes(), std::string("a\0b\n", 4));
  const meshkv::v1::SetRequest req = BuildSet(Parse({"set", "--mapping", "k", "f=1", "g=x=y"}), in);
  EXPECT_EQ(req.value().mapping().fields().at("f"), "1");
  EXPECT_EQ(req.value().mapping().fields().at("g"), "x=y");
}

TEST(BuildDeleteTest, KeyVersionAndReplicas) {
  meshkv::v1::DeleteRequest req = BuildDelete(Parse({"del", "k"}));
  EXPECT_EQ(req.key(), "k");
  EXPECT_FALSE(req.has_precondition());
  req = BuildDelete(Parse({"del", "--if-version", "9/n1", "--replicas", "1", "k"}));
  EXPECT_EQ(req.precondition().version().hlc(), 9u);
  EXPECT_EQ(req.precondition().version().origin(), "n1");
  EXPECT_EQ(req.min_replicas(), 1u);
}

TEST(BuildDeletePrefixTest, PrefixLimitAndReplicas) {
  const meshkv::v1::DeletePrefixRequest req =
      BuildDeletePrefix(Parse({"del", "--prefix", "--limit", "100", "--replicas", "3", "user/"}));
  EXPECT_EQ(req.prefix(), "user/");
  EXPECT_EQ(req.limit(), 100u);
  EXPECT_EQ(req.min_replicas(), 3u);
  EXPECT_EQ(BuildDeletePrefix(Parse({"del", "--prefix", ""})).prefix(), "");
}

TEST(BuildApplyDeltaTest, FieldsRemovalsPreconditionTtlReplicas) {
  const meshkv::v1::ApplyDeltaRequest req =
      BuildApplyDelta(Parse({"apply-delta", "--remove", "old", "--remove", "older", "--if-absent",
                             "--ttl", "1m", "--replicas", "1", "k", "new=1"}));
  EXPECT_EQ(req.key(), "k");
  EXPECT_EQ(req.delta().fields().at("new"), "1");
  EXPECT_THAT(req.remove_fields(), ElementsAre("old", "older"));
  EXPECT_TRUE(req.precondition().absent());
  EXPECT_EQ(req.ttl_ms(), 60000);
  EXPECT_EQ(req.min_replicas(), 1u);

  const meshkv::v1::ApplyDeltaRequest only_remove =
      BuildApplyDelta(Parse({"apply-delta", "k", "--remove", "f"}));
  EXPECT_TRUE(only_remove.delta().fields().empty());
  EXPECT_THAT(only_remove.remove_fields(), ElementsAre("f"));
  EXPECT_FALSE(only_remove.has_precondition());
}

TEST(BuildTouchTest, DurationFromNowOrZero) {
  meshkv::v1::TouchRequest req = BuildTouch(Parse({"touch", "--replicas", "1", "k", "90s"}));
  EXPECT_EQ(req.key(), "k");
  EXPECT_EQ(req.ttl_ms(), 90000);
  EXPECT_EQ(req.min_replicas(), 1u);
  EXPECT_EQ(BuildTouch(Parse({"touch", "k", "0"})).ttl_ms(), 0);
}

TEST(BuildWritesTest, ReplicasOnUpdatePopAndPopItem) {
  const meshkv::v1::UpdateRequest update =
      BuildUpdate(Parse({"update", "--replicas", "2", "a=1", "b=2"}));
  EXPECT_EQ(update.min_replicas(), 2u);
  ASSERT_EQ(update.items_size(), 2);
  // The items' own concern must stay 0: the UpdateRequest's applies.
  EXPECT_EQ(update.items(0).min_replicas(), 0u);
  EXPECT_EQ(BuildPop(Parse({"pop", "--replicas", "4", "k"})).min_replicas(), 4u);
  EXPECT_EQ(BuildPopItem(Parse({"popitem", "--replicas", "1"})).min_replicas(), 1u);
}

TEST(BuildListTest, CountIsCountOnlyUnderThePrefix) {
  meshkv::v1::ListRequest req = BuildList(Parse({"count", "user/"}));
  EXPECT_TRUE(req.count_only());
  EXPECT_EQ(req.prefix(), "user/");
  EXPECT_TRUE(BuildList(Parse({"count"})).prefix().empty());
  req = BuildList(Parse({"keys", "--prefix", "p", "--limit", "3", "--start-after", "p1"}));
  EXPECT_FALSE(req.count_only());
  EXPECT_TRUE(req.keys_only());
  EXPECT_EQ(req.limit(), 3u);
  EXPECT_EQ(req.start_after(), "p1");
  EXPECT_FALSE(BuildList(Parse({"items"})).keys_only());
}

TEST(BuildWatchTest, ProgressFilterKeysOnly) {
  meshkv::v1::WatchRequest req = BuildWatch(Parse({"watch"}));
  EXPECT_EQ(req.progress_notify_ms(), 0u);
  EXPECT_EQ(req.filter(), meshkv::v1::WatchRequest::ALL);
  EXPECT_FALSE(req.keys_only());
  req = BuildWatch(Parse({"watch", "--progress", "2s", "--filter", "deletes", "--keys-only",
                          "--prefix", "w/", "--from-revision", "7", "--prev"}));
  EXPECT_EQ(req.progress_notify_ms(), 2000u);
  EXPECT_EQ(req.filter(), meshkv::v1::WatchRequest::DELETES);
  EXPECT_TRUE(req.keys_only());
  EXPECT_EQ(req.prefix(), "w/");
  EXPECT_EQ(req.start_revision(), 7u);
  EXPECT_TRUE(req.prev_value());
  EXPECT_EQ(BuildWatch(Parse({"watch", "--filter=updates"})).filter(),
            meshkv::v1::WatchRequest::UPDATES);
}

TEST(BuildPublishTest, TopicPayloadAndStdin) {
  std::istringstream in("from stdin\n");
  meshkv::v1::PublishRequest req = BuildPublish(Parse({"publish", "alerts/disk", "full"}), in);
  EXPECT_EQ(req.topic(), "alerts/disk");
  EXPECT_EQ(req.payload(), "full");
  EXPECT_EQ(BuildPublish(Parse({"publish", "t", "-"}), in).payload(), "from stdin\n");
  EXPECT_EQ(BuildSubscribe(Parse({"subscribe", "alerts/"})).topic_prefix(), "alerts/");
  EXPECT_EQ(BuildSubscribe(Parse({"subscribe"})).topic_prefix(), "");
}

}  // namespace
}  // namespace meshkv::cli
