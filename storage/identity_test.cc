#include "storage/identity.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"

namespace meshkv::storage {
namespace {

using ::meshkv::testing::StatusIs;
using ::testing::HasSubstr;

IdentityFile Sample() {
  IdentityFile f;
  f.engine = EngineKind::kLevelDb;
  f.identity = {"prod east", "10.0.0.1:4444", false};
  return f;
}

TEST(IdentityFileTest, RoundTrips) {
  absl::StatusOr<IdentityFile> back = ParseIdentityFile(FormatIdentityFile(Sample()));
  ASSERT_OK(back);
  EXPECT_EQ(back->format_version, kFormatVersion);
  EXPECT_EQ(back->engine, EngineKind::kLevelDb);
  EXPECT_EQ(back->identity.cluster, "prod east");
  EXPECT_EQ(back->identity.node_id, "10.0.0.1:4444");
  EXPECT_FALSE(back->identity.leasing);
}

TEST(IdentityFileTest, MalformedIsDataLoss) {
  EXPECT_THAT(ParseIdentityFile(""), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseIdentityFile("garbage\n"), StatusIs(absl::StatusCode::kDataLoss));
  std::string text = FormatIdentityFile(Sample());
  std::string bad_engine = text;
  bad_engine.replace(bad_engine.find("leveldb"), 7, "sqlite!");
  EXPECT_THAT(ParseIdentityFile(bad_engine),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("engine")));
  std::string bad_leasing = text;
  bad_leasing.replace(bad_leasing.find("leasing off"), 11, "leasing maybe");
  EXPECT_THAT(ParseIdentityFile(bad_leasing), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(IdentityFileTest, CheckNamesTheMismatchAndTheRemedy) {
  const IdentityFile have = Sample();
  EXPECT_OK(CheckIdentity("/d", have, have.identity, have.engine));
  Identity other = have.identity;
  other.cluster = "prod west";
  EXPECT_THAT(CheckIdentity("/d", have, other, have.engine),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("belongs to cluster \"prod east\", not \"prod west\"")));
  other = have.identity;
  other.node_id = "n9";
  EXPECT_THAT(CheckIdentity("/d", have, other, have.engine),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("start with --node-id=10.0.0.1:4444")));
  other = have.identity;
  other.leasing = true;
  EXPECT_THAT(CheckIdentity("/d", have, other, have.engine),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--leasing=off")));
  EXPECT_THAT(CheckIdentity("/d", have, have.identity, EngineKind::kRocksDb),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("engine leveldb")));
  IdentityFile newer = have;
  newer.format_version = kFormatVersion + 1;
  EXPECT_THAT(CheckIdentity("/d", newer, have.identity, have.engine),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer meshkv")));
}

}  // namespace
}  // namespace meshkv::storage
