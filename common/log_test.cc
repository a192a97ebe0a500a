#include "common/log.h"

#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"

namespace meshkv {
namespace {

using ::meshkv::testing::IsOkAndHolds;
using ::meshkv::testing::StatusIs;

TEST(LogTest, EveryLevelParsesFromItsName) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    EXPECT_THAT(ParseLogLevel(LogLevelName(l)), IsOkAndHolds(l)) << LogLevelName(l);
  }
  EXPECT_EQ(LogLevelName(kDefaultLogLevel), "info");
  EXPECT_THAT(ParseLogLevel("WARN"), IsOkAndHolds(LogLevel::kWarning));
  EXPECT_THAT(ParseLogLevel("verbose"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LogTest, TheDefaultLevelIsInEffectUntilChanged) {
  EXPECT_TRUE(LogEnabled(kDefaultLogLevel));
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  SetLogLevel(LogLevel::kError);
  EXPECT_FALSE(LogEnabled(LogLevel::kWarning));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  SetLogLevel(kDefaultLogLevel);
}

}  // namespace
}  // namespace meshkv
