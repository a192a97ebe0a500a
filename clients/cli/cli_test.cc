// End-to-end tests of the `meshkv` binary: each test starts a real
// meshkv-server, runs the real client as a process and checks its stdout,
// stderr and exit code.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/util/server_process.h"
#include "tests/util/status_matchers.h"
#include "tests/util/subprocess.h"
#include "tests/util/test_certs.h"
#include "tests/util/wait.h"

namespace meshkv::cli {
namespace {

using ::meshkv::testing::BinPath;
using ::meshkv::testing::RunResult;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::Subprocess;
using ::meshkv::testing::WaitFor;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::StrEq;

// gtest's POSIX regexes know no \d.
constexpr char kIso[] = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";
constexpr char kNodeId[] = "cli-test";

// The meta every line of `items` ends with, for a key this node wrote.
std::string ItemMeta() {
  return absl::StrCat(" owner=", kNodeId, " rev=[0-9]+ ts=", kIso, " lease=", kIso);
}
// The meta of a watch event.
std::string EventMeta() { return absl::StrCat(" owner=", kNodeId, " rev=[0-9]+ ts=", kIso); }

std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> lines = absl::StrSplit(out, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// Exit 0, `out` on stdout, nothing on stderr.
MATCHER_P(Succeeds, out, "") {
  *result_listener << "exit " << arg.exit_code << ", stdout \"" << arg.out << "\", stderr \""
                   << arg.err << "\"";
  return arg.exit_code == 0 && arg.err.empty() &&
         ::testing::Matches(::testing::SafeMatcherCast<const std::string&>(out))(arg.out);
}

// Exit `code`, nothing on stdout, one line matching `err` on stderr.
MATCHER_P2(Fails, code, err, "") {
  *result_listener << "exit " << arg.exit_code << ", stdout \"" << arg.out << "\", stderr \""
                   << arg.err << "\"";
  return arg.exit_code == code && arg.out.empty() &&
         ::testing::Matches(::testing::SafeMatcherCast<const std::string&>(err))(arg.err);
}

// A loopback port reserved for the test. Bound but not listening: a client
// is refused. Listening (`listen`): connections complete in the kernel but
// nobody ever answers, so a client waits until its deadline.
class SilentPort {
 public:
  explicit SilentPort(bool listen) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), len);
    if (listen) ::listen(fd_, 16);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    addr_ = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  }
  ~SilentPort() { close(fd_); }
  const std::string& addr() const { return addr_; }

 private:
  int fd_;
  std::string addr_;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{absl::StrCat("--node-id=", kNodeId), "--metrics-addr="});
    ASSERT_OK(server_->Start());
    ASSERT_OK(server_->WaitServing());
  }

  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {BinPath("meshkv"), "--addr", server_->grpc_addr()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // meshkv ARGS against the test's server.
  RunResult Cli(const std::vector<std::string>& args) const {
    return meshkv::testing::Run(Argv(args));
  }

  // The revision `get -v` reports for `key`.
  uint64_t RevisionOf(const std::string& key) const {
    const RunResult r = Cli({"get", "-v", key});
    for (const std::string& line : Lines(r.out)) {
      uint64_t rev;
      if (absl::StartsWith(line, "revision: ") && absl::SimpleAtoi(line.substr(10), &rev)) {
        return rev;
      }
    }
    ADD_FAILURE() << "no revision for " << key << " in: " << r.out << r.err;
    return 0;
  }

  // The version `get -v` reports for `key`, as --if-version takes it.
  std::string VersionOf(const std::string& key) const {
    const RunResult r = Cli({"get", "-v", key});
    for (const std::string& line : Lines(r.out)) {
      if (absl::StartsWith(line, "version: ")) return line.substr(9);
    }
    ADD_FAILURE() << "no version for " << key << " in: " << r.out << r.err;
    return "";
  }

  // Skips the test when the server does not implement what `r` asked for
  // yet (kv.proto's fields land one by one; the request itself is checked
  // in requests_test.cc). Behaviour is asserted as soon as it exists.
  static bool Unimplemented(const RunResult& r) {
    return r.exit_code == 3 && absl::StartsWith(r.err, "meshkv: UNIMPLEMENTED: ");
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CliTest, SetThenGet) {
  EXPECT_THAT(Cli({"set", "greeting", "hello"}), Succeeds("OK\n"));
  // Exactly the bytes: no newline when stdout is not a terminal.
  EXPECT_THAT(Cli({"get", "greeting"}), Succeeds("hello"));
  EXPECT_THAT(Cli({"set", "greeting", "hello world"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "greeting"}), Succeeds("hello world"));
  EXPECT_THAT(Cli({"set", "empty", ""}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "empty"}), Succeeds(""));
}

TEST_F(CliTest, GetMetaPrintsOwnerTimestampRevisionAndLease) {
  ASSERT_THAT(Cli({"set", "k", "v"}), Succeeds("OK\n"));
  for (const char* flag : {"-v", "--meta"}) {
    const RunResult r = Cli({"get", flag, "k"});
    ASSERT_THAT(r, Succeeds(::testing::_));
    EXPECT_THAT(Lines(r.out),
                ElementsAre("key: k", "value: v", absl::StrCat("owner: ", kNodeId),
                            MatchesRegex(absl::StrCat("timestamp: ", kIso)),
                            MatchesRegex(absl::StrCat("version: [1-9][0-9]*/", kNodeId)),
                            MatchesRegex("revision: [1-9][0-9]*"),
                            MatchesRegex(absl::StrCat("lease-expires: ", kIso)), "expires: never"));
  }
}

TEST_F(CliTest, GetOfAbsentKeyExits1) {
  EXPECT_THAT(Cli({"get", "nope"}), Fails(1, StrEq("meshkv: NOT_FOUND: key \"nope\" not found\n")));
}

TEST_F(CliTest, GetOfEmptyKeyIsAnInvalidArgument) {
  EXPECT_THAT(Cli({"get", ""}), Fails(3, StartsWith("meshkv: INVALID_ARGUMENT: ")));
}

TEST_F(CliTest, DelRemovesTheKeyAndDelOfAnAbsentKeyExits1) {
  ASSERT_THAT(Cli({"set", "k", "v"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"del", "k"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "k"}), Fails(1, HasSubstr("NOT_FOUND")));
  EXPECT_THAT(Cli({"del", "k"}), Fails(1, StartsWith("meshkv: NOT_FOUND: ")));
}

TEST_F(CliTest, UpdateWritesEveryKeyThenItemsListsThemInOrder) {
  // Split at the first '=': "c" gets "x=y".
  EXPECT_THAT(Cli({"update", "b=2", "a=1", "c=x=y"}), Succeeds("OK\n"));
  const RunResult r = Cli({"items"});
  ASSERT_THAT(r, Succeeds(::testing::_));
  EXPECT_THAT(Lines(r.out),
              ElementsAre(MatchesRegex("a=1" + ItemMeta()), MatchesRegex("b=2" + ItemMeta()),
                          MatchesRegex("c=\"x=y\"" + ItemMeta())));
}

TEST_F(CliTest, UpdateIsAllOrNothing) {
  // One item too large (the default limit is 4 KiB): nothing is written.
  const std::string huge_key(5000, 'k');
  EXPECT_THAT(Cli({"update", "ok=1", huge_key + "=v"}),
              Fails(3, StartsWith("meshkv: INVALID_ARGUMENT: ")));
  EXPECT_THAT(Cli({"get", "ok"}), Fails(1, HasSubstr("NOT_FOUND")));
  EXPECT_THAT(Cli({"update", "dup=1", "dup=2"}), Fails(3, HasSubstr("INVALID_ARGUMENT")));
  EXPECT_THAT(Cli({"keys"}), Succeeds(""));
}

TEST_F(CliTest, ApplyDeltaTwiceMerges) {
  EXPECT_THAT(Cli({"apply-delta", "store", "color=red", "size=10"}),
              Succeeds("{\"color\": \"red\", \"size\": \"10\"}\n"));
  EXPECT_THAT(Cli({"apply-delta", "store", "size=11", "shape=round"}),
              Succeeds("{\"color\": \"red\", \"shape\": \"round\", \"size\": \"11\"}\n"));
  EXPECT_THAT(Cli({"get", "store"}),
              Succeeds("{\"color\": \"red\", \"shape\": \"round\", \"size\": \"11\"}\n"));
  const RunResult items = Cli({"items"});
  EXPECT_THAT(items, Succeeds(MatchesRegex(
                         "store=\\{\"color\": \"red\", \"shape\": \"round\", \"size\": \"11\"\\}" +
                         ItemMeta() + "\n")));
}

TEST_F(CliTest, ApplyDeltaOnABytesValueFailsWithFailedPrecondition) {
  ASSERT_THAT(Cli({"set", "test", "bytes"}), Succeeds("OK\n"));
  const RunResult r = Cli({"apply-delta", "test", "f=1"});
  EXPECT_THAT(r, Fails(4, AllOf(StartsWith("meshkv: FAILED_PRECONDITION: "), EndsWith("\n"))));
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_THAT(Cli({"get", "test"}), Succeeds("bytes"));
}

TEST_F(CliTest, SetMappingWritesAWholeMapping) {
  EXPECT_THAT(Cli({"set", "m", "--mapping", "b=2", "a=1"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "m"}), Succeeds("{\"a\": \"1\", \"b\": \"2\"}\n"));
  // A whole-value set replaces the mapping, fields included.
  EXPECT_THAT(Cli({"set", "--mapping", "m", "c=3"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "m"}), Succeeds("{\"c\": \"3\"}\n"));
}

TEST_F(CliTest, SetReadsTheValueFromStdinByteForByte) {
  const RunResult set =
      meshkv::testing::Run({"/bin/sh", "-c", "printf 'a\\001b\\n' | \"$0\" --addr \"$1\" set bin -",
                            BinPath("meshkv"), server_->grpc_addr()});
  ASSERT_THAT(set, Succeeds("OK\n"));
  // get pipes the raw bytes; listings escape them.
  EXPECT_THAT(Cli({"get", "bin"}), Succeeds(std::string("a\x01"
                                                        "b\n")));
  EXPECT_THAT(Cli({"items"}), Succeeds(MatchesRegex("bin=\"a\\\\x01b\\\\n\"" + ItemMeta() + "\n")));
  EXPECT_THAT(Cli({"set", "dash", "--", "-"}), Succeeds("OK\n"));  // stdin is /dev/null
  EXPECT_THAT(Cli({"get", "dash"}), Succeeds(""));
}

TEST_F(CliTest, ValuesStartingWithADashFollowDoubleDash) {
  EXPECT_THAT(Cli({"set", "n", "-5"}), Fails(2, HasSubstr("put -- before")));
  EXPECT_THAT(Cli({"set", "n", "--", "-5"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "n"}), Succeeds("-5"));
}

TEST_F(CliTest, PopPrintsTheValueAndDeletesTheKey) {
  ASSERT_THAT(Cli({"set", "k", "v"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"pop", "k"}), Succeeds("v"));
  EXPECT_THAT(Cli({"get", "k"}), Fails(1, HasSubstr("NOT_FOUND")));
  EXPECT_THAT(Cli({"pop", "k"}), Fails(1, StartsWith("meshkv: NOT_FOUND: ")));
}

TEST_F(CliTest, PopItemPopsInKeyOrderUntilNothingIsLeft) {
  ASSERT_THAT(Cli({"update", "b=2", "a=1"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"popitem"}), Succeeds(MatchesRegex("a=1" + ItemMeta() + "\n")));
  EXPECT_THAT(Cli({"popitem"}), Succeeds(MatchesRegex("b=2" + ItemMeta() + "\n")));
  EXPECT_THAT(Cli({"popitem"}), Fails(1, StartsWith("meshkv: NOT_FOUND: ")));
  EXPECT_THAT(Cli({"keys"}), Succeeds(""));
}

TEST_F(CliTest, KeysWithPrefixLimitAndStartAfter) {
  ASSERT_THAT(Cli({"update", "user/3=c", "user/1=a", "other=x", "user/2=b"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"keys"}), Succeeds("other\nuser/1\nuser/2\nuser/3\n"));
  EXPECT_THAT(Cli({"keys", "--prefix", "user/"}), Succeeds("user/1\nuser/2\nuser/3\n"));
  EXPECT_THAT(Cli({"keys", "--prefix=nobody/"}), Succeeds(""));

  // A listing cut by --limit says so on stderr, with how to go on.
  const RunResult cut = Cli({"keys", "--prefix", "user/", "--limit", "2"});
  EXPECT_EQ(cut.exit_code, 0);
  EXPECT_EQ(cut.out, "user/1\nuser/2\n");
  EXPECT_EQ(cut.err, "meshkv: more keys follow; continue with --start-after user/2\n");
  EXPECT_THAT(Cli({"keys", "--prefix", "user/", "--start-after", "user/2"}), Succeeds("user/3\n"));
  EXPECT_THAT(Cli({"keys", "--prefix", "user/", "--limit", "3"}),
              Succeeds("user/1\nuser/2\nuser/3\n"));

  const RunResult items = Cli({"items", "--prefix", "user/", "--limit", "1"});
  EXPECT_EQ(items.exit_code, 0);
  EXPECT_THAT(items.out, MatchesRegex("user/1=a" + ItemMeta() + "\n"));
}

TEST_F(CliTest, Utf8RoundTripsAndPrintsAsUtf8) {
  EXPECT_THAT(Cli({"set", "测试", "成功"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "测试"}), Succeeds("成功"));
  EXPECT_THAT(Cli({"keys"}), Succeeds("测试\n"));
  EXPECT_THAT(Cli({"items"}), Succeeds(MatchesRegex("测试=成功" + ItemMeta() + "\n")));
  EXPECT_THAT(Cli({"get", "-v", "测试"}), Succeeds(HasSubstr("key: 测试\nvalue: 成功\n")));
}

TEST_F(CliTest, WatchPrintsEventsAsTheyHappenAndExits0OnSigint) {
  Subprocess watch(Argv({"watch", "--prefix", "w/"}));
  ASSERT_OK(watch.Start());
  // Registered: from here on no change is missed.
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(watch.Stderr(), "from revision"); },
                      absl::Seconds(10)))
      << watch.Stderr();
  EXPECT_THAT(watch.Stderr(),
              MatchesRegex("meshkv: watching keys starting with \"w/\" from revision [0-9]+\n"));

  ASSERT_THAT(Cli({"set", "w/a", "1"}), Succeeds("OK\n"));
  ASSERT_THAT(Cli({"set", "elsewhere", "x"}), Succeeds("OK\n"));  // outside the prefix
  ASSERT_THAT(Cli({"update", "w/a=2", "w/b=two words"}), Succeeds("OK\n"));
  ASSERT_THAT(Cli({"del", "w/a"}), Succeeds("OK\n"));
  ASSERT_THAT(Cli({"apply-delta", "w/m", "f=v"}), Succeeds(::testing::_));

  // Each line is flushed as its event arrives, with the watch still running.
  ASSERT_TRUE(WaitFor([&] { return Lines(watch.Stdout()).size() >= 5; }, absl::Seconds(10)))
      << watch.Stdout();
  EXPECT_TRUE(watch.running());
  EXPECT_THAT(Lines(watch.Stdout()),
              ElementsAre(MatchesRegex("UPDATE w/a=1" + EventMeta()),
                          MatchesRegex("UPDATE w/a=2" + EventMeta()),
                          MatchesRegex("UPDATE w/b=\"two words\"" + EventMeta()),
                          MatchesRegex("DELETE w/a" + EventMeta()),
                          MatchesRegex("UPDATE w/m=\\{\"f\": \"v\"\\}" + EventMeta())));

  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(10)), 0) << watch.Stderr();
  EXPECT_THAT(Lines(watch.Stderr()), ElementsAre(HasSubstr("watching")));
}

TEST_F(CliTest, WatchFromRevisionReplaysWithPreviousValuesAndExits0OnSigterm) {
  // --from-revision 0 means "from now", so the replay starts after this one.
  ASSERT_THAT(Cli({"set", "before", "0"}), Succeeds("OK\n"));
  ASSERT_THAT(Cli({"set", "k", "1"}), Succeeds("OK\n"));
  const uint64_t first = RevisionOf("k");
  ASSERT_THAT(Cli({"set", "k", "2"}), Succeeds("OK\n"));
  ASSERT_THAT(Cli({"del", "k"}), Succeeds("OK\n"));

  ASSERT_GE(first, 2u);
  Subprocess watch(Argv({"watch", "--prev", "--from-revision", std::to_string(first - 1)}));
  ASSERT_OK(watch.Start());
  ASSERT_TRUE(WaitFor([&] { return Lines(watch.Stdout()).size() >= 3; }, absl::Seconds(10)))
      << watch.Stdout() << watch.Stderr();
  EXPECT_THAT(Lines(watch.Stdout()),
              ElementsAre(MatchesRegex("UPDATE k=1" + EventMeta()),
                          MatchesRegex("UPDATE k=2" + EventMeta() + " prev=1"),
                          MatchesRegex("DELETE k" + EventMeta() + " prev=2")));
  EXPECT_THAT(watch.Stderr(), HasSubstr(absl::StrCat("every key from revision ", first - 1)));

  watch.Signal(SIGTERM);
  EXPECT_EQ(watch.Wait(absl::Seconds(10)), 0) << watch.Stderr();
}

TEST_F(CliTest, WatchEndedByTheServerIsAnError) {
  Subprocess watch(Argv({"watch"}));
  ASSERT_OK(watch.Start());
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(watch.Stderr(), "from revision"); },
                      absl::Seconds(10)));
  server_->Terminate();
  EXPECT_EQ(watch.Wait(absl::Seconds(20)), 5);
  EXPECT_THAT(
      Lines(watch.Stderr()),
      ElementsAre(HasSubstr("watching"),
                  StartsWith(absl::StrCat("meshkv: UNAVAILABLE: ", server_->grpc_addr(), ": "))));
}

TEST_F(CliTest, SetIfAbsentAndIfVersionAreCompareAndSet) {
  EXPECT_THAT(Cli({"set", "--if-absent", "lock", "me"}), Succeeds("OK\n"));
  const std::string v1 = VersionOf("lock");
  // Refused, exit 4, and the message names the current version.
  EXPECT_THAT(
      Cli({"set", "--if-absent", "lock", "you"}),
      Fails(4, StrEq(absl::StrCat("meshkv: FAILED_PRECONDITION: key \"lock\" is at version ", v1,
                                  ", not absent\n"))));
  EXPECT_THAT(Cli({"get", "lock"}), Succeeds("me"));

  EXPECT_THAT(Cli({"set", "--if-version", v1, "lock", "me2"}), Succeeds("OK\n"));
  const std::string v2 = VersionOf("lock");
  EXPECT_NE(v2, v1);
  // The old version no longer holds: nothing changes.
  EXPECT_THAT(Cli({"set", "--if-version", v1, "lock", "stale"}),
              Fails(4, HasSubstr(absl::StrCat("is at version ", v2, ", not ", v1))));
  EXPECT_THAT(Cli({"apply-delta", "--if-version", v1, "lock", "f=1"}), Fails(4, HasSubstr(v2)));
  EXPECT_THAT(Cli({"del", "--if-version", v1, "lock"}), Fails(4, HasSubstr(v2)));
  EXPECT_THAT(Cli({"get", "lock"}), Succeeds("me2"));
  EXPECT_THAT(Cli({"del", "--if-version", v2, "lock"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "lock"}), Fails(1, HasSubstr("NOT_FOUND")));

  EXPECT_THAT(Cli({"apply-delta", "--if-absent", "m", "f=1"}), Succeeds("{\"f\": \"1\"}\n"));
  EXPECT_THAT(Cli({"apply-delta", "--if-absent", "m", "g=1"}), Fails(4, HasSubstr("not absent")));
}

TEST_F(CliTest, CountsKeysUnderAPrefix) {
  EXPECT_THAT(Cli({"count"}), Succeeds("0\n"));
  ASSERT_THAT(Cli({"update", "user/1=a", "user/2=b", "other=c"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"count"}), Succeeds("3\n"));
  EXPECT_THAT(Cli({"count", "user/"}), Succeeds("2\n"));
  EXPECT_THAT(Cli({"count", "nobody/"}), Succeeds("0\n"));
  EXPECT_THAT(Cli({"-w", "json", "count", "user/"}), Succeeds(HasSubstr("\"count\":\"2\"")));
  EXPECT_THAT(Cli({"-w", "table", "count", "user/"}), Succeeds("+--------+-------+\n"
                                                               "| PREFIX | COUNT |\n"
                                                               "+--------+-------+\n"
                                                               "| user/  | 2     |\n"
                                                               "+--------+-------+\n"));
}

TEST_F(CliTest, WatchFilterKeysOnlyAndProgress) {
  Subprocess watch(
      Argv({"watch", "--filter", "deletes", "--keys-only", "--prev", "--progress", "200ms"}));
  ASSERT_OK(watch.Start());
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(watch.Stderr(), "from revision"); },
                      absl::Seconds(10)))
      << watch.Stderr();
  ASSERT_THAT(Cli({"set", "k", "v"}), Succeeds("OK\n"));
  ASSERT_THAT(Cli({"del", "k"}), Succeeds("OK\n"));
  // Only the delete, without the previous value (keys only).
  ASSERT_TRUE(WaitFor([&] { return !watch.Stdout().empty(); }, absl::Seconds(10)));
  // An idle stream reports the revision it has delivered up to, on stderr:
  // the set was revision 2 (filtered out, yet covered), the delete 3. (One
  // for revision 2 may come first if the two commands were 200ms apart.)
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(watch.Stderr(),
                                 "meshkv: progress: every change up to revision 3 delivered\n");
      },
      absl::Seconds(10)))
      << watch.Stderr();
  EXPECT_THAT(Lines(watch.Stdout()), ElementsAre(MatchesRegex("DELETE k" + EventMeta())));
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(10)), 0) << watch.Stderr();
}

TEST_F(CliTest, JsonOutputIsTheResponseWithBytesInBase64) {
  EXPECT_THAT(
      Cli({"-w", "json", "set", "测试", "v"}),
      Succeeds(AllOf(StartsWith("{\"meta\":{"),
                     HasSubstr(absl::StrCat("\"owner\":\"", kNodeId, "\"")), EndsWith("}\n"))));
  // Keys and values are bytes, so base64: 测试 is 5rWL6K+V, v is dg==.
  EXPECT_THAT(Cli({"get", "测试", "--write-out=json"}),
              Succeeds(AllOf(StartsWith("{\"found\":true,\"entry\":{\"key\":\"5rWL6K+V\","
                                        "\"value\":{\"bytes\":\"dg==\"}"),
                             HasSubstr("\"revision\":"), EndsWith("}\n"))));
  ASSERT_THAT(Cli({"set", "k2", "w"}), Succeeds("OK\n"));
  // A listing is one document: every entry, the revision, whether more follow.
  const RunResult keys = Cli({"-w", "json", "keys"});
  ASSERT_THAT(keys, Succeeds(::testing::_));
  EXPECT_THAT(keys.out, MatchesRegex("\\{\"entries\":\\[\\{\"key\":\"azI=\"[^\n]*\\},"
                                     "\\{\"key\":\"5rWL6K\\+V\"[^\n]*\\],\"revision\":\"3\","
                                     "\"more\":false,\"count\":\"0\"\\}\n"));
  EXPECT_THAT(Cli({"-w", "json", "health"}), Succeeds("{\"status\":\"SERVING\"}\n"));
  // Errors stay one line on stderr, whatever the format.
  EXPECT_THAT(Cli({"-w", "json", "get", "nope"}), Fails(1, HasSubstr("NOT_FOUND")));
}

TEST_F(CliTest, JsonWatchPrintsEachResponseOnALine) {
  Subprocess watch(Argv({"-w", "json", "watch", "--prefix", "j/"}));
  ASSERT_OK(watch.Start());
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(watch.Stdout(), "\"created\":true"); },
                      absl::Seconds(10)))
      << watch.Stdout() << watch.Stderr();
  ASSERT_THAT(Cli({"set", "j/a", "1"}), Succeeds("OK\n"));
  ASSERT_TRUE(WaitFor([&] { return Lines(watch.Stdout()).size() >= 2; }, absl::Seconds(10)));
  EXPECT_THAT(Lines(watch.Stdout()),
              ElementsAre(StartsWith("{\"created\":true,\"revision\":"),
                          AllOf(StartsWith("{\"created\":false,"),
                                HasSubstr("\"events\":[{\"type\":\"UPDATE\","),
                                HasSubstr("\"key\":\"ai9h\""), HasSubstr("\"bytes\":\"MQ==\""))));
  EXPECT_EQ(watch.Stderr(), "");
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(10)), 0);
}

TEST_F(CliTest, TableOutputAlignsColumns) {
  ASSERT_THAT(Cli({"update", "a=1", "bb=two words"}), Succeeds("OK\n"));
  const RunResult r = Cli({"-w", "table", "items"});
  ASSERT_THAT(r, Succeeds(::testing::_));
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;  // rule, header, rule, 2 rows, rule
  EXPECT_THAT(lines[1], MatchesRegex("\\| KEY \\| VALUE +\\| OWNER +\\| VERSION +\\| REVISION \\| "
                                     "TIMESTAMP +\\| LEASE +\\| EXPIRES \\|"));
  EXPECT_THAT(lines[3], StartsWith("| a   | 1           | cli-test |"));
  EXPECT_THAT(lines[4], StartsWith("| bb  | \"two words\" | cli-test |"));
  EXPECT_THAT(lines[4], EndsWith("| -       |"));
  for (const std::string& line : lines) EXPECT_EQ(line.size(), lines[0].size()) << line;

  EXPECT_THAT(Cli({"-w", "table", "keys"}),
              Succeeds("+-----+\n| KEY |\n+-----+\n| a   |\n| bb  |\n+-----+\n"));
  EXPECT_THAT(Cli({"-w", "table", "set", "c", "3"}),
              Succeeds(MatchesRegex("\\+-+\\+.*\n\\| KEY \\| OWNER +\\| VERSION .*\n.*\n"
                                    "\\| c   \\| cli-test \\| [0-9]+/cli-test \\|[^\n]*\n.*\n")));
  EXPECT_THAT(Cli({"-w", "table", "health"}),
              Succeeds("+---------+\n| STATUS  |\n+---------+\n| SERVING |\n+---------+\n"));
}

TEST_F(CliTest, EndpointsSkipDeadOnesInOrder) {
  SilentPort refused(/*listen=*/false);
  SilentPort silent(/*listen=*/true);
  const std::string list =
      absl::StrCat(refused.addr(), ",", silent.addr(), ",", server_->grpc_addr());
  // --addr with a list is the same as --endpoints (it used to be a DNS error).
  for (const std::string flag : {"--endpoints", "--addr"}) {
    const std::string value = flag.substr(2);  // the value says which flag wrote it
    EXPECT_THAT(meshkv::testing::Run(
                    {BinPath("meshkv"), flag, list, "--dial-timeout", "300ms", "set", "k", value}),
                Succeeds("OK\n"));
    EXPECT_THAT(meshkv::testing::Run(
                    {BinPath("meshkv"), flag, list, "--dial-timeout", "300ms", "get", "k"}),
                Succeeds(value));
  }
  const std::map<std::string, std::string> env = {
      {"MESHKV_ENDPOINTS", absl::StrCat(refused.addr(), ",", server_->grpc_addr())},
      {"MESHKV_ADDR", refused.addr()}};  // MESHKV_ENDPOINTS wins
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "get", "k"}, absl::Seconds(30), env),
              Succeeds("addr"));
  // None answers: exit 5, each named with why.
  EXPECT_THAT(
      meshkv::testing::Run({BinPath("meshkv"), "--endpoints",
                            absl::StrCat(refused.addr(), ",", silent.addr()), "--dial-timeout",
                            "300ms", "get", "k"}),
      Fails(5, StartsWith(absl::StrCat("meshkv: UNAVAILABLE: no endpoint answered: ",
                                       refused.addr(), ": connection failed; ", silent.addr(),
                                       ": no answer within 300ms (--dial-timeout)"))));
}

TEST_F(CliTest, CompletionScriptsNeedNoServer) {
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "completion", "bash"}),
              Succeeds(AllOf(HasSubstr("_meshkv()"), EndsWith("complete -F _meshkv meshkv\n"))));
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "completion", "zsh"}),
              Succeeds(StartsWith("#compdef meshkv\n")));
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "completion", "fish"}),
              Fails(2, HasSubstr("unknown shell \"fish\"")));
}

TEST_F(CliTest, SetTtlAndTouch) {
  const RunResult set = Cli({"set", "--ttl", "1h", "session", "s1"});
  ASSERT_THAT(set, Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "-v", "session"}),
              Succeeds(::testing::ContainsRegex(absl::StrCat("\nexpires: ", kIso, "\n"))));
  EXPECT_THAT(Cli({"items"}), Succeeds(::testing::ContainsRegex(absl::StrCat(" expires=", kIso))));
  EXPECT_THAT(Cli({"touch", "session", "0"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli({"get", "-v", "session"}), Succeeds(HasSubstr("\nexpires: never\n")));
  EXPECT_THAT(Cli({"touch", "nope", "1s"}), Fails(1, HasSubstr("NOT_FOUND")));
}

TEST_F(CliTest, DeletePrefixIsAllOrNothingWithALimit) {
  ASSERT_THAT(Cli({"update", "user/1=a", "user/2=b", "other=c"}), Succeeds("OK\n"));
  const RunResult over = Cli({"del", "--prefix", "--limit", "1", "user/"});
  EXPECT_THAT(over, Fails(4, StartsWith("meshkv: FAILED_PRECONDITION: ")));
  EXPECT_THAT(Cli({"count", "user/"}), Succeeds("2\n"));
  EXPECT_THAT(Cli({"del", "--prefix", "user/"}), Succeeds("2\n"));
  EXPECT_THAT(Cli({"keys"}), Succeeds("other\n"));
  EXPECT_THAT(Cli({"del", "--prefix", "user/"}), Succeeds("0\n"));
}

TEST_F(CliTest, ApplyDeltaRemovesFields) {
  ASSERT_THAT(Cli({"apply-delta", "m", "a=1", "b=2", "c=3"}), Succeeds(::testing::_));
  const RunResult r = Cli({"apply-delta", "m", "--remove", "a", "--remove", "b", "d=4"});
  EXPECT_THAT(r, Succeeds("{\"c\": \"3\", \"d\": \"4\"}\n"));
  EXPECT_THAT(Cli({"apply-delta", "m", "--remove", "c"}), Succeeds("{\"d\": \"4\"}\n"));
}

// meshkv-server does not serve Publish/Subscribe yet: the CLI says so
// plainly (exit 3, the server's UNIMPLEMENTED) rather than hang or print OK.
// When the alert network lands, this becomes a test that a published message
// reaches a subscriber.
TEST_F(CliTest, PublishAndSubscribeSayTheServerDoesNotServeThemYet) {
  EXPECT_TRUE(Unimplemented(Cli({"publish", "alerts/disk", "90% full"})));
  EXPECT_TRUE(Unimplemented(Cli({"subscribe", "alerts/"})));
}

TEST_F(CliTest, LeaseRefusalExits4) {
  ServerProcess peer({"--node-id=cli-peer", "--metrics-addr=", "--join=" + server_->mesh_addr()});
  ASSERT_OK(peer.Start());
  ASSERT_OK(peer.WaitServing());
  ASSERT_THAT(Cli({"set", "owned", "by-cli-test"}), Succeeds("OK\n"));
  const auto on_peer = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BinPath("meshkv"), "--endpoints", peer.grpc_addr()};
    argv.insert(argv.end(), args.begin(), args.end());
    return meshkv::testing::Run(argv);
  };
  ASSERT_TRUE(WaitFor([&] { return on_peer({"get", "owned"}).exit_code == 0; }, absl::Seconds(10)));
  EXPECT_THAT(on_peer({"set", "owned", "stolen"}),
              Fails(4, AllOf(StartsWith("meshkv: FAILED_PRECONDITION: "),
                             HasSubstr(absl::StrCat("leased by ", kNodeId, " until ")))));
  EXPECT_THAT(on_peer({"del", "owned"}), Fails(4, HasSubstr("leased by")));
  EXPECT_THAT(Cli({"get", "owned"}), Succeeds("by-cli-test"));
}

TEST_F(CliTest, ReplicasWaitsForThePeerToHoldTheWrite) {
  ServerProcess peer({"--node-id=cli-peer", "--metrics-addr=", "--join=" + server_->mesh_addr()});
  ASSERT_OK(peer.Start());
  ASSERT_OK(peer.WaitServing());
  const RunResult set = Cli({"set", "--replicas", "1", "k", "v"});
  ASSERT_THAT(set, Succeeds("OK\n"));
  // Acknowledged only once the peer held it: readable there at once, no wait.
  EXPECT_THAT(
      meshkv::testing::Run({BinPath("meshkv"), "--endpoints", peer.grpc_addr(), "get", "k"}),
      Succeeds("v"));
}

TEST_F(CliTest, StatusShowsTheNodeAndItsPeers) {
  const RunResult alone = Cli({"status"});
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_THAT(alone.out, HasSubstr(absl::StrCat("node      ", kNodeId)));
  EXPECT_THAT(alone.out, HasSubstr("state     synced"));
  EXPECT_THAT(alone.out, HasSubstr("peers     0"));

  ServerProcess peer({"--node-id=cli-peer", "--metrics-addr=", "--join=" + server_->mesh_addr()});
  ASSERT_OK(peer.Start());
  ASSERT_OK(peer.WaitServing());
  ASSERT_THAT(Cli({"set", "k", "v"}), Succeeds("OK\n"));
  const RunResult joined = Cli({"status"});
  ASSERT_EQ(joined.exit_code, 0) << joined.err;
  EXPECT_THAT(joined.out, HasSubstr("revision 2, 1 keys"));
  EXPECT_THAT(joined.out, HasSubstr("peers     1"));
  EXPECT_THAT(joined.out,
              ::testing::ContainsRegex("cli-peer +127\\.0\\.0\\.1:[0-9]+ +established +in"));
}

TEST_F(CliTest, HealthOfAServingNode) {
  // As the container image's HEALTHCHECK calls it: meshkv --addr HOST:PORT health.
  EXPECT_THAT(Cli({"health"}), Succeeds("SERVING\n"));
}

// A grpc.health.v1 server that answers NOT_SERVING, as a node does while it
// syncs.
class NotServingHealth final : public grpc::health::v1::Health::Service {
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse* resp) override {
    resp->set_status(grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }
};

TEST(CliHealthTest, NotServingExits1) {
  NotServingHealth service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const RunResult r = meshkv::testing::Run(
      {BinPath("meshkv"), "--addr", absl::StrCat("127.0.0.1:", port), "health"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "NOT_SERVING\n");
  EXPECT_EQ(r.err, "");
  server->Shutdown();
}

TEST(CliUnreachableTest, EveryCommandExits5NamingTheEndpoint) {
  SilentPort refused(/*listen=*/false);
  const std::vector<std::vector<std::string>> commands = {{"get", "k"},
                                                          {"set", "k", "v"},
                                                          {"del", "k"},
                                                          {"del", "--prefix", "p"},
                                                          {"update", "k=v"},
                                                          {"apply-delta", "k", "f=v"},
                                                          {"pop", "k"},
                                                          {"popitem"},
                                                          {"touch", "k", "1s"},
                                                          {"keys"},
                                                          {"items"},
                                                          {"count"},
                                                          {"watch"},
                                                          {"publish", "t", "p"},
                                                          {"subscribe"},
                                                          {"health"},
                                                          {"status"}};
  for (const std::vector<std::string>& command : commands) {
    std::vector<std::string> argv = {BinPath("meshkv"), "--addr", refused.addr()};
    argv.insert(argv.end(), command.begin(), command.end());
    EXPECT_THAT(
        meshkv::testing::Run(argv),
        Fails(5, AllOf(StartsWith(absl::StrCat("meshkv: UNAVAILABLE: no endpoint answered: ",
                                               refused.addr(), ": connection failed")),
                       EndsWith("\n"))))
        << command[0];
  }
}

TEST(CliUnreachableTest, ASilentEndpointIsUnreachableAfterTheDialTimeout) {
  SilentPort silent(/*listen=*/true);
  EXPECT_THAT(
      meshkv::testing::Run(
          {BinPath("meshkv"), "--addr", silent.addr(), "--dial-timeout", "200ms", "health"}),
      Fails(5, StartsWith(absl::StrCat("meshkv: UNAVAILABLE: no endpoint answered: ", silent.addr(),
                                       ": no answer within 200ms (--dial-timeout)"))));
}

// A health service that answers only once the test ends: a node that
// accepted the call but is slow.
class StuckHealth final : public grpc::health::v1::Health::Service {
 public:
  ~StuckHealth() override { Release(); }
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse*) override {
    release_.WaitForNotificationWithTimeout(absl::Seconds(30));
    return grpc::Status::OK;
  }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

 private:
  absl::Notification release_;
};

TEST(CliUnreachableTest, ASlowAnswerExceedsTheDeadline) {
  StuckHealth service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string addr = absl::StrCat("127.0.0.1:", port);
  EXPECT_THAT(
      meshkv::testing::Run({BinPath("meshkv"), "--addr", addr, "--timeout", "200ms", "health"}),
      Fails(3, StartsWith(absl::StrCat("meshkv: DEADLINE_EXCEEDED: ", addr,
                                       ": no answer within 200ms (--timeout)"))));
  service.Release();
  server->Shutdown();
}

TEST_F(CliTest, AddressFromTheEnvironmentAndFlagOverridesIt) {
  const std::map<std::string, std::string> env = {{"MESHKV_ADDR", server_->grpc_addr()}};
  EXPECT_THAT(
      meshkv::testing::Run({BinPath("meshkv"), "set", "k", "from-env"}, absl::Seconds(30), env),
      Succeeds("OK\n"));
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "get", "k"}, absl::Seconds(30), env),
              Succeeds("from-env"));

  SilentPort refused(/*listen=*/false);
  const std::map<std::string, std::string> wrong_env = {{"MESHKV_ADDR", refused.addr()}};
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "get", "k"}, absl::Seconds(30), wrong_env),
              Fails(5, HasSubstr(refused.addr())));
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "get", "k", "--addr", server_->grpc_addr()},
                                   absl::Seconds(30), wrong_env),
              Succeeds("from-env"));
}

// Usage errors need no server: exit 2, a message and a pointer to --help.
TEST(CliUsageTest, UsageErrorsExit2WithAHint) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
    std::string hint;
  };
  const std::vector<Case> cases = {
      {{}, "meshkv: missing command\n", "Run 'meshkv --help' for usage.\n"},
      {{"frobnicate"},
       "meshkv: unknown command \"frobnicate\"\n",
       "Run 'meshkv --help' for usage.\n"},
      {{"--bogus", "health"},
       "meshkv: unknown flag \"--bogus\"\n",
       "Run 'meshkv health --help' for usage.\n"},
      {{"get"}, "meshkv: get: missing argument", "Run 'meshkv get --help' for usage.\n"},
      {{"get", "a", "b"},
       "meshkv: get: unexpected argument \"b\"",
       "Run 'meshkv get --help' for usage.\n"},
      {{"get", "--bogus", "k"},
       "meshkv: unknown flag \"--bogus\" for get",
       "Run 'meshkv get --help' for usage.\n"},
      {{"set", "k"}, "meshkv: set: missing argument", "Run 'meshkv set --help' for usage.\n"},
      {{"update", "novalue"},
       "meshkv: update: expected NAME=VALUE",
       "Run 'meshkv update --help' for usage.\n"},
      {{"keys", "--limit", "many"},
       "meshkv: flag --limit: \"many\"",
       "Run 'meshkv keys --help' for usage.\n"},
      {{"watch", "--from-revision"},
       "meshkv: flag --from-revision needs a value",
       "Run 'meshkv watch --help' for usage.\n"},
      {{"--timeout", "0", "health"},
       "meshkv: flag --timeout: \"0\"",
       "Run 'meshkv health --help' for usage.\n"},
      {{"help", "frobnicate"},
       "meshkv: unknown command \"frobnicate\"\n",
       "Run 'meshkv --help' for usage.\n"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {BinPath("meshkv")};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const RunResult r = meshkv::testing::Run(argv);
    EXPECT_THAT(r, Fails(2, AllOf(StartsWith(c.message), EndsWith(c.hint))))
        << absl::StrJoin(c.args, " ");
    EXPECT_EQ(Lines(r.err).size(), 2u) << r.err;
  }
}

TEST(CliUsageTest, HelpDocumentsCommandsAndExitCodes) {
  const RunResult help = meshkv::testing::Run({BinPath("meshkv"), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.err, "");
  for (const char* command :
       {"get KEY", "set KEY VALUE", "del KEY", "update KEY=VALUE...",
        "apply-delta KEY [FIELD=VALUE...]", "pop KEY", "popitem", "keys", "items", "watch",
        "health", "--addr HOST:PORT", "--timeout", "MESHKV_ADDR", "--version"}) {
    EXPECT_THAT(help.out, HasSubstr(command));
  }
  EXPECT_THAT(help.out, HasSubstr("Exit codes:\n  0  success\n  1  not found"));
  EXPECT_THAT(help.out, HasSubstr("\n  2  usage error"));
  EXPECT_THAT(help.out, HasSubstr("\n  3  any other error"));
  EXPECT_THAT(help.out, HasSubstr("\n  4  refused (FAILED_PRECONDITION)"));
  EXPECT_THAT(help.out, HasSubstr("\n  5  unreachable (UNAVAILABLE)"));
  for (const char* documented :
       {"--endpoints HOST:PORT,...", "--dial-timeout", "-w, --write-out", "MESHKV_ENDPOINTS",
        "base64", "UTF-8", "touch KEY DURATION", "count [PREFIX]", "publish TOPIC PAYLOAD",
        "subscribe [PREFIX]", "completion bash|zsh"}) {
    EXPECT_THAT(help.out, HasSubstr(documented));
  }
  EXPECT_EQ(meshkv::testing::Run({BinPath("meshkv"), "-h"}).out, help.out);
  EXPECT_EQ(meshkv::testing::Run({BinPath("meshkv"), "help"}).out, help.out);

  for (const char* command :
       {"get", "set", "del", "update", "apply-delta", "pop", "popitem", "touch", "keys", "items",
        "count", "watch", "publish", "subscribe", "health", "status", "completion"}) {
    const RunResult r = meshkv::testing::Run({BinPath("meshkv"), command, "--help"});
    EXPECT_THAT(r, Succeeds(StartsWith(absl::StrCat("Usage: meshkv ", command))));
    EXPECT_EQ(meshkv::testing::Run({BinPath("meshkv"), "help", command}).out, r.out);
  }
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "watch", "-h"}),
              Succeeds(AllOf(HasSubstr("--prefix P"), HasSubstr("--from-revision R"),
                             HasSubstr("--prev"), HasSubstr("--progress DURATION"),
                             HasSubstr("--filter WHICH"), HasSubstr("--keys-only"))));
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "set", "-h"}),
              Succeeds(AllOf(HasSubstr("--if-absent"), HasSubstr("--if-version HLC/ORIGIN"),
                             HasSubstr("--ttl DURATION"), HasSubstr("--replicas N"))));
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "del", "-h"}),
              Succeeds(AllOf(HasSubstr("--prefix"), HasSubstr("--limit N"),
                             HasSubstr("--if-version HLC/ORIGIN"), HasSubstr("--replicas N"))));
  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "apply-delta", "-h"}),
              Succeeds(AllOf(HasSubstr("--remove FIELD"), HasSubstr("--if-version"))));

  EXPECT_THAT(meshkv::testing::Run({BinPath("meshkv"), "--version"}),
              Succeeds(MatchesRegex("meshkv [0-9]+\\.[0-9]+\\.[0-9]+\n")));
}

// The CLI against a node with TLS and client certificates: etcdctl's flags,
// or MESHKV_CACERT / MESHKV_CERT / MESHKV_KEY.
class CliTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string ca_key = certs_.Path("ca/ca.key");
    ASSERT_OK(certs_.Run({"create-ca", "--certs-dir", certs_.Path("ca")}));
    ASSERT_OK(certs_.Run({"create-node", "--certs-dir", certs_.Path("n1"), "--ca-key", ca_key,
                          "--node-id", kNodeId, "--host", "127.0.0.1"}));
    for (const char* name : {"app", "dash"}) {
      ASSERT_OK(certs_.Run(
          {"create-client", "--certs-dir", certs_.Path("n1"), "--ca-key", ca_key, "--name", name}));
    }
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        absl::StrCat("--node-id=", kNodeId), "--metrics-addr=", "--certs-dir=" + Cert("")[0],
        "--client-ca=" + certs_.Path("n1/ca.crt"), "--client-roles=app=read-write,dash=read-only"});
    ASSERT_OK(server_->Start());
    ASSERT_OK(server_->WaitServing());
  }
  // {certs dir} for "", else {ca.crt, client.NAME.crt, client.NAME.key}.
  std::vector<std::string> Cert(const std::string& name) const {
    if (name.empty()) return {certs_.Path("n1")};
    return {certs_.Path("n1/ca.crt"), certs_.Path("n1/client." + name + ".crt"),
            certs_.Path("n1/client." + name + ".key")};
  }
  // meshkv --addr ... [--cacert --cert --key of `name`] ARGS.
  RunResult Cli(const std::string& name, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env = {}) const {
    std::vector<std::string> argv = {BinPath("meshkv"), "--addr", server_->grpc_addr()};
    if (!name.empty()) {
      const std::vector<std::string> files = Cert(name);
      argv.insert(argv.end(), {"--cacert", files[0], "--cert", files[1], "--key", files[2]});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return meshkv::testing::Run(argv, absl::Seconds(30), env);
  }

  meshkv::testing::TestCerts certs_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CliTlsTest, FlagsOrEnvironmentReachATlsNodeAsTheRoleAllows) {
  EXPECT_THAT(Cli("app", {"set", "k", "v"}), Succeeds("OK\n"));
  EXPECT_THAT(Cli("dash", {"get", "k"}), Succeeds("v"));
  EXPECT_THAT(Cli("dash", {"del", "k"}),
              Fails(3, AllOf(HasSubstr("PERMISSION_DENIED"), HasSubstr("client dash"))));
  // The same from the environment.
  const std::vector<std::string> app = Cert("app");
  const std::map<std::string, std::string> env = {
      {"MESHKV_CACERT", app[0]}, {"MESHKV_CERT", app[1]}, {"MESHKV_KEY", app[2]}};
  EXPECT_THAT(Cli("", {"set", "k", "from-env"}, env), Succeeds("OK\n"));
  EXPECT_THAT(Cli("", {"get", "k"}, env), Succeeds("from-env"));
  // Health needs no certificate, only the CA.
  EXPECT_THAT(Cli("", {"--cacert", app[0], "health"}), Succeeds("SERVING\n"));
}

TEST_F(CliTlsTest, MissingOrHalfCredentialsSayWhatToPass) {
  EXPECT_THAT(Cli("", {"get", "k"}),
              Fails(5, AllOf(HasSubstr("UNAVAILABLE"), HasSubstr("pass --cacert"))));
  const std::vector<std::string> app = Cert("app");
  EXPECT_THAT(Cli("", {"--cacert", app[0], "get", "k"}),
              Fails(3, AllOf(HasSubstr("UNAUTHENTICATED"), HasSubstr("pass --cert and --key"))));
  EXPECT_THAT(Cli("", {"--cacert", app[0], "--cert", app[1], "get", "k"}),
              Fails(2, HasSubstr("--cert needs --key")));
  EXPECT_THAT(Cli("", {"--cacert", certs_.Path("nope.crt"), "get", "k"}),
              Fails(2, HasSubstr("--cacert: cannot read")));
}

}  // namespace
}  // namespace meshkv::cli
