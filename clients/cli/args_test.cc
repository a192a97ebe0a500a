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
  EXPECT_THAT(inv.global.endpoints, ElementsAre("127.0.0.1:50051"));
  EXPECT_EQ(inv.global.dial_timeout, absl::Seconds(2));
  EXPECT_EQ(inv.global.timeout, absl::Seconds(5));
  EXPECT_EQ(inv.global.output, OutputFormat::kSimple);
  EXPECT_FALSE(inv.Has("meta"));
}

TEST(ParseArgsTest, DefaultEndpointsComeFromTheCaller) {
  EXPECT_THAT(ParseArgs({"health"}, "10.0.0.1:7000").global.endpoints,
              ElementsAre("10.0.0.1:7000"));
  EXPECT_THAT(ParseArgs({"health"}, "a:1, b:2").global.endpoints, ElementsAre("a:1", "b:2"));
  EXPECT_THAT(ParseArgs({"--addr", "h:1", "health"}, "10.0.0.1:7000").global.endpoints,
              ElementsAre("h:1"));
  EXPECT_THAT(ParseArgs({"health"}, "a:1,,b:2").error, HasSubstr("$MESHKV_ENDPOINTS"));
}

TEST(ParseArgsTest, EndpointsAndAddrAreOneCommaSeparatedList) {
  for (const char* flag : {"--endpoints", "--addr"}) {
    Invocation inv = Parse({flag, "a:1,b:2,c:3", "health"});
    EXPECT_THAT(inv.error, IsEmpty());
    EXPECT_THAT(inv.global.endpoints, ElementsAre("a:1", "b:2", "c:3")) << flag;
  }
  // The last one given wins, as for every single-valued flag.
  EXPECT_THAT(Parse({"--addr", "a:1", "health", "--endpoints=b:2"}).global.endpoints,
              ElementsAre("b:2"));
  EXPECT_THAT(Parse({"--endpoints", "a:1,", "health"}).error, HasSubstr("HOST:PORT[,HOST:PORT"));
  EXPECT_THAT(Parse({"--endpoints", "", "health"}).error, HasSubstr("HOST:PORT[,HOST:PORT"));
  EXPECT_EQ(Parse({"--dial-timeout", "300ms", "health"}).global.dial_timeout,
            absl::Milliseconds(300));
  EXPECT_THAT(Parse({"--dial-timeout", "0", "health"}).error, HasSubstr("positive duration"));
}

TEST(ParseArgsTest, WriteOutOnEveryCommand) {
  EXPECT_EQ(Parse({"-w", "json", "get", "k"}).global.output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"get", "k", "--write-out=table"}).global.output, OutputFormat::kTable);
  EXPECT_EQ(Parse({"watch", "-w", "simple"}).global.output, OutputFormat::kSimple);
  EXPECT_THAT(Parse({"-w", "yaml", "get", "k"}).error,
              HasSubstr("flag --write-out: \"yaml\" must be one of simple, json, table"));
}

TEST(ParseArgsTest, GlobalFlagsBeforeOrAfterTheCommandInBothSpellings) {
  Invocation inv = Parse({"--addr", "h:1", "get", "--timeout=250ms", "k"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_THAT(inv.global.endpoints, ElementsAre("h:1"));
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
  EXPECT_THAT(Parse({"--addr=", "health"}).error, HasSubstr("must be HOST:PORT"));
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

TEST(ParseArgsTest, ConditionalWriteFlags) {
  Invocation inv = Parse({"set", "--if-absent", "k", "v"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_TRUE(inv.Has("if-absent"));
  inv = Parse({"set", "--if-version", "1733300000000123/n1:4444", "k", "v"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_EQ(inv.Flag("if-version"), "1733300000000123/n1:4444");
  EXPECT_THAT(Parse({"del", "--if-version=5/n1", "k"}).error, IsEmpty());
  EXPECT_THAT(Parse({"apply-delta", "--if-absent", "k", "f=1"}).error, IsEmpty());
  for (const char* bad : {"5", "/n1", "5/", "x/n1", "-5/n1", " 5/n1", "18446744073709551616/n"}) {
    EXPECT_THAT(Parse({"set", "--if-version", bad, "k", "v"}).error,
                HasSubstr("must be a version HLC/ORIGIN"))
        << bad;
  }
  EXPECT_THAT(Parse({"set", "--if-absent", "--if-version", "5/n1", "k", "v"}).error,
              HasSubstr("--if-absent and --if-version exclude each other"));
  EXPECT_THAT(Parse({"del", "--if-absent", "k"}).error, HasSubstr("unknown flag"));
}

TEST(ParseArgsTest, TtlTouchAndReplicas) {
  Invocation inv = Parse({"set", "--ttl", "1m", "--replicas", "2", "k", "v"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_EQ(inv.Millis("ttl"), 60000);
  EXPECT_EQ(inv.Number("replicas"), 2u);
  EXPECT_THAT(Parse({"set", "--ttl", "500us", "k", "v"}).error, HasSubstr("at least 1ms"));
  EXPECT_THAT(Parse({"set", "--ttl", "0", "k", "v"}).error, HasSubstr("at least 1ms"));
  EXPECT_THAT(Parse({"touch", "k", "30s"}).error, IsEmpty());
  EXPECT_THAT(Parse({"touch", "k", "0"}).error, IsEmpty());  // removes the expiry
  EXPECT_THAT(Parse({"touch", "k", "soon"}).error, HasSubstr("touch: DURATION \"soon\""));
  EXPECT_THAT(Parse({"touch", "k"}).error, HasSubstr("missing argument"));
  // Every command that writes takes --replicas; reads do not.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"set", "k", "v"},
                                             {"del", "k"},
                                             {"del", "--prefix", "p"},
                                             {"update", "k=v"},
                                             {"apply-delta", "k", "f=v"},
                                             {"pop", "k"},
                                             {"popitem"},
                                             {"touch", "k", "1s"}}) {
    std::vector<std::string> with = args;
    with.insert(with.begin() + 1, {"--replicas", "1"});
    EXPECT_THAT(Parse(with).error, IsEmpty()) << args[0];
  }
  EXPECT_THAT(Parse({"get", "--replicas", "1", "k"}).error, HasSubstr("unknown flag"));
  EXPECT_THAT(Parse({"set", "--replicas", "-1", "k", "v"}).error, HasSubstr("whole number"));
}

TEST(ParseArgsTest, DeletePrefixAndRemoveFields) {
  Invocation inv = Parse({"del", "--prefix", "--limit", "10", "user/"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_TRUE(inv.Has("prefix"));
  EXPECT_THAT(inv.args, ElementsAre("user/"));
  EXPECT_THAT(Parse({"del", "--prefix", ""}).error, IsEmpty());  // every key
  EXPECT_THAT(Parse({"del", "--limit", "10", "k"}).error, HasSubstr("--limit needs --prefix"));
  EXPECT_THAT(Parse({"del", "--prefix", "--if-version", "5/n", "p"}).error,
              HasSubstr("not to --prefix"));

  inv = Parse({"apply-delta", "--remove", "a", "k", "--remove=b", "c=1"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_THAT(inv.Values("remove"), ElementsAre("a", "b"));
  EXPECT_THAT(Parse({"apply-delta", "k", "--remove", "a"}).error, IsEmpty());
  EXPECT_THAT(Parse({"apply-delta", "k"}).error, HasSubstr("missing argument"));
}

TEST(ParseArgsTest, CountWatchPublishSubscribe) {
  EXPECT_THAT(Parse({"count"}).error, IsEmpty());
  EXPECT_THAT(Parse({"count", "user/"}).args, ElementsAre("user/"));
  EXPECT_THAT(Parse({"count", "a", "b"}).error, HasSubstr("unexpected argument"));

  Invocation inv = Parse({"watch", "--progress", "2s", "--filter", "deletes", "--keys-only"});
  EXPECT_THAT(inv.error, IsEmpty());
  EXPECT_EQ(inv.Millis("progress"), 2000);
  EXPECT_EQ(inv.Flag("filter"), "deletes");
  EXPECT_TRUE(inv.Has("keys-only"));
  EXPECT_THAT(Parse({"watch", "--progress", "50ms"}).error, HasSubstr("at least 100ms"));
  EXPECT_THAT(Parse({"watch", "--filter", "puts"}).error,
              HasSubstr("must be one of all, updates, deletes"));

  EXPECT_THAT(Parse({"publish", "alerts", "disk full"}).args, ElementsAre("alerts", "disk full"));
  EXPECT_THAT(Parse({"publish", "alerts"}).error, HasSubstr("missing argument"));
  EXPECT_THAT(Parse({"subscribe"}).error, IsEmpty());
  EXPECT_THAT(Parse({"subscribe", "alerts/"}).args, ElementsAre("alerts/"));
  EXPECT_THAT(Parse({"completion", "bash"}).error, IsEmpty());
  EXPECT_THAT(Parse({"completion", "fish"}).error, HasSubstr("unknown shell \"fish\""));
}

TEST(ParseVersionTest, HlcSlashOrigin) {
  uint64_t hlc;
  std::string origin;
  ASSERT_TRUE(ParseVersion("42/10.0.0.1:4444", &hlc, &origin));
  EXPECT_EQ(hlc, 42u);
  EXPECT_EQ(origin, "10.0.0.1:4444");
  ASSERT_TRUE(ParseVersion("7/a/b", &hlc, &origin));  // split at the first '/'
  EXPECT_EQ(origin, "a/b");
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
