// A real partition: three meshkv-server processes, each in its own network
// namespace, one of them cut off from the others with iptables DROP while
// both sides take writes, then healed. Every node must converge, and each
// key's lease must stay with the node where its write entered.
//
// Needs root, iproute2 and iptables (the test command installs them).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/netns/netns.h"
#include "tests/util/kv_client.h"
#include "tests/util/server_process.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::Network;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::WaitFor;

// Every live key of a node: value and owner.
std::map<std::string, std::pair<std::string, std::string>> State(Client& c) {
  grpc::ClientContext ctx;
  auto reader = c.stub()->List(&ctx, meshkv::v1::ListRequest());
  std::map<std::string, std::pair<std::string, std::string>> out;
  meshkv::v1::ListResponse page;
  while (reader->Read(&page)) {
    for (const auto& e : page.entries()) out[e.key()] = {e.value().bytes(), e.meta().owner()};
  }
  EXPECT_TRUE(reader->Finish().ok());
  return out;
}

TEST(PartitionTest, BothSidesWriteDuringACutAndConvergeAfterHealing) {
  Network net(3);
  ASSERT_TRUE(net.status().ok()) << net.status() << " (this test needs root, ip and iptables)";
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> flags = {
        absl::StrCat("--node-id=n", i),
        absl::StrCat("--grpc-addr=", net.Ip(i), ":0"),
        absl::StrCat("--mesh-addr=", net.Ip(i), ":4444"),
        absl::StrCat("--metrics-addr=", net.Ip(i), ":0"),
    };
    if (i > 0) flags.push_back(absl::StrCat("--join=", net.Ip(0), ":4444"));
    nodes.push_back(
        std::make_unique<ServerProcess>(flags, std::map<std::string, std::string>{}, net.Exec(i)));
    ASSERT_TRUE(nodes.back()->Start().ok());
    ASSERT_TRUE(nodes.back()->WaitServing().ok());
  }
  Client a(*nodes[0]), b(*nodes[1]), c(*nodes[2]);
  ASSERT_TRUE(a.Set("before", "everyone").ok());
  for (Client* x : {&b, &c}) ASSERT_TRUE(x->WaitValue("before", "everyone"));

  // Cut n2 off from n0 and n1.
  ASSERT_TRUE(net.Cut(2, {0, 1}).ok());
  ASSERT_TRUE(a.Set("left", "from n0").ok());
  ASSERT_TRUE(b.Set("left-b", "from n1").ok());
  ASSERT_TRUE(c.Set("right", "from n2").ok());
  ASSERT_TRUE(a.Set("contested", "n0 first").ok());
  // Both sides accept a write to the same new key: neither knows of the
  // other's lease. The later write must win everywhere after healing.
  // "Later" is by hybrid clock, whose physical part counts milliseconds:
  // within one millisecond the smaller node ID (n0) would win the tie, so
  // n2 writes only once the wall clock has moved past n0's write.
  const int64_t first_ms = a.Get("contested")->meta().timestamp_ms();
  ASSERT_TRUE(
      WaitFor([&] { return absl::ToUnixMillis(absl::Now()) > first_ms; }, absl::Seconds(1)));
  ASSERT_TRUE(c.Set("contested", "n2 later").ok());
  ASSERT_TRUE(b.WaitValue("left", "from n0"));
  // The cut is real: nothing crosses it.
  EXPECT_FALSE(WaitFor([&] { return c.Get("left").has_value() || a.Get("right").has_value(); },
                       absl::Seconds(3)));
  EXPECT_EQ(c.Get("contested")->value().bytes(), "n2 later");
  EXPECT_EQ(a.Get("contested")->value().bytes(), "n0 first");
  // Long enough for both sides to declare the other dead: healing then
  // takes reconnection and anti-entropy, not TCP retransmission.
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(nodes[0]->Logs(), "peer timed out") &&
               absl::StrContains(nodes[2]->Logs(), "peer timed out");
      },
      absl::Seconds(30)));
  ASSERT_TRUE(a.Set("late-left", "n0 after the timeout").ok());

  ASSERT_TRUE(net.Heal().ok());
  const absl::Time healed = absl::Now();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto sa = State(a);
        return sa.size() == 6 && sa == State(b) && sa == State(c);
      },
      absl::Seconds(60)))
      << "not converged 60 s after healing";
  std::cerr << "converged " << absl::ToDoubleSeconds(absl::Now() - healed) << " s after healing\n";

  const auto state = State(a);
  EXPECT_EQ(state.at("left"), std::make_pair(std::string("from n0"), std::string("n0")));
  EXPECT_EQ(state.at("left-b"), std::make_pair(std::string("from n1"), std::string("n1")));
  EXPECT_EQ(state.at("right"), std::make_pair(std::string("from n2"), std::string("n2")));
  EXPECT_EQ(state.at("contested"), std::make_pair(std::string("n2 later"), std::string("n2")));
  // Leases stay where the writes entered.
  EXPECT_EQ(b.Set("right", "taken").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(c.Set("left", "taken").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(a.Set("contested", "again").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(c.Set("right", "still mine").ok());
  EXPECT_TRUE(a.WaitValue("right", "still mine"));
}

}  // namespace
}  // namespace meshkv
