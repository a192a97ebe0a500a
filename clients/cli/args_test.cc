#include "clients/cli/args.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Invocation Parse(std::vector<std::string> args) { return ParseArgs(args, kDefaultAddr); }

TEST(ParseArgsTest, CommandArgumentsAndDefaults) {
  Invocation inv = Parse({"get", "k"});
  EXPECT_THAT(inv.error, IsEmpty());
  ASSERT_NE(inv.command, nullptr);
  EXPECT_EQ(inv.command->name, "get");
  EXPECT_THAT(inv.args, ElementsAre("k"));
  EXPECT_EQ(inv.global.addr, "127.0.0.1:50051");
  EXPECT_EQ(inv.global.timeout, absl::Seconds(5));
  EXPECT_FALSE(inv.Has("meta"));
}

TEST(ParseArgsTest, DefaultAddressComesFromTheCaller) {
  EXPECT_EQ(ParseArgs({"health"}, "10.0.0.1:7000").global.addr, "10.0.0.1:7000");
  EXPECT_EQ(ParseArgs({"--addr", "h:1", "health"}, "10.0.0.1:7000").global.addr, "h:1");
}

TEST(ParseArgsTest, GlobalFlagsBeforeOrAfterTheCommandInBothSpellings) {
  Invocation inv = Parse({"--addr", "h:1", "get", "--timeout=250ms", "k"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_EQ(inv.global.addr, "h:1");
  EXPECT_EQ(inv.global.timeout, absl::Milliseconds(250));
  EXPECT_EQ(Parse({"--timeout", "2", "health"}).global.timeout, absl::Seconds(2));
  EXPECT_EQ(Parse({"--timeout", "1m", "health"}).global.timeout, absl::Minutes(1));
}

TEST(ParseArgsTest, CommandFlags) {
  Invocation inv = Parse({"keys", "--prefix", "user/", "--limit=10"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_EQ(inv.Flag("prefix"), "user/");
  EXPECT_EQ(inv.Number("limit"), 10u);
  EXPECT_EQ(inv.Flag("start-after"), "");

  inv = Parse({"get", "-v", "k"});
  EXPECT_TRUE(inv.Has("meta"));
  EXPECT_TRUE(Parse({"get", "k", "--meta"}).Has("meta"));

  inv = Parse({"watch", "--from-revision", "18446744073709551615", "--prev"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_EQ(inv.Number("from-revision"), 18446744073709551615u);
  EXPECT_TRUE(inv.Has("prev"));
}

TEST(ParseArgsTest, DashIsAnArgumentAndDoubleDashEndsFlags) {
  EXPECT_THAT(Parse({"set", "k", "-"}).args, ElementsAre("k", "-"));
  Invocation inv = Parse({"set", "--", "-k", "--v"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_THAT(inv.args, ElementsAre("-k", "--v"));
  EXPECT_THAT(Parse({"set", "k", ""}).args, ElementsAre("k", ""));
}

TEST(ParseArgsTest, ArgumentCountsAndShapes) {
  EXPECT_THAT(Parse({"get"}).error, HasSubstr("get: missing argument"));
  EXPECT_THAT(Parse({"get", "a", "b"}).error, HasSubstr("unexpected argument \"b\""));
  EXPECT_THAT(Parse({"popitem", "x"}).error, HasSubstr("unexpected argument \"x\""));
  EXPECT_THAT(Parse({"set", "k"}).error, HasSubstr("missing argument"));
  EXPECT_THAT(Parse({"set", "k", "v", "w"}).error, HasSubstr("unexpected argument \"w\""));
  EXPECT_THAT(Parse({"set", "--mapping", "k", "a=1", "b=2"}).error, IsEmpty());
  EXPECT_THAT(Parse({"set", "--mapping", "k", "a"}).error, HasSubstr("expected NAME=VALUE"));
  EXPECT_THAT(Parse({"update"}).error, HasSubstr("missing argument"));
  EXPECT_THAT(Parse({"update", "a=1", "b"}).error, HasSubstr("expected NAME=VALUE, got \"b\""));
  // Split at the first '=': the value may hold more.
  EXPECT_THAT(Parse({"update", "a==1", "b="}).error, IsEmpty());
  EXPECT_THAT(Parse({"apply-delta", "k", "f=1"}).error, IsEmpty());
  EXPECT_THAT(Parse({"apply-delta", "k", "f"}).error, HasSubstr("expected NAME=VALUE"));
}

TEST(ParseArgsTest, UsageErrors) {
  EXPECT_THAT(Parse({}).command, nullptr);
  EXPECT_THAT(Parse({"frobnicate"}).error, HasSubstr("unknown command \"frobnicate\""));
  EXPECT_THAT(Parse({"get", "--bogus", "k"}).error, HasSubstr("unknown flag \"--bogus\" for get"));
  EXPECT_THAT(Parse({"set", "k", "-5"}).error, HasSubstr("put -- before"));
  EXPECT_THAT(Parse({"--prefix", "a", "keys"}).error, HasSubstr("go after the command"));
  EXPECT_EQ(Parse({"--bogus", "keys"}).error, "unknown flag \"--bogus\"");
  // A command's flag belongs to that command only.
  EXPECT_THAT(Parse({"get", "--prefix", "a", "k"}).error, HasSubstr("unknown flag"));
  EXPECT_THAT(Parse({"keys", "--limit"}).error, HasSubstr("--limit needs a value"));
  EXPECT_THAT(Parse({"keys", "--limit", "-1"}).error, HasSubstr("whole number"));
  EXPECT_THAT(Parse({"keys", "--limit", "4294967296"}).error, HasSubstr("whole number"));
  EXPECT_THAT(Parse({"watch", "--from-revision", "x"}).error, HasSubstr("whole number"));
  EXPECT_THAT(Parse({"watch", "--prev=yes"}).error, HasSubstr("--prev takes no value"));
  EXPECT_THAT(Parse({"--addr=", "health"}).error, HasSubstr("must not be empty"));
  EXPECT_THAT(Parse({"--timeout", "0", "health"}).error, HasSubstr("positive duration"));
  EXPECT_THAT(Parse({"--timeout", "-1s", "health"}).error, HasSubstr("positive duration"));
  EXPECT_THAT(Parse({"--timeout", "soon", "health"}).error, HasSubstr("positive duration"));
}

TEST(ParseArgsTest, HelpAndVersionAreSeenDespiteOtherErrors) {
  Invocation inv = Parse({"get", "--help"});
  EXPECT_TRUE(inv.help);
  ASSERT_NE(inv.command, nullptr);
  EXPECT_EQ(inv.command->name, "get");
  EXPECT_TRUE(Parse({"-h"}).help);
  EXPECT_TRUE(Parse({"frobnicate", "-h"}).help);
  EXPECT_TRUE(Parse({"--version"}).version);
}

TEST(ParseTimeoutTest, DurationsAndSeconds) {
  absl::Duration d;
  ASSERT_TRUE(ParseTimeout("1.5", &d));
  EXPECT_EQ(d, absl::Milliseconds(1500));
  ASSERT_TRUE(ParseTimeout("1m30s", &d));
  EXPECT_EQ(d, absl::Seconds(90));
  EXPECT_FALSE(ParseTimeout("inf", &d));
  EXPECT_FALSE(ParseTimeout("", &d));
}

}  // namespace
}  // namespace meshkv::cli
