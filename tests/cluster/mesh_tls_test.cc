// Real meshkv-server processes over mutual TLS on the mesh: three members
// with certificates from one CA replicate; a fourth, whose certificate comes
// from another CA, is refused by them, never receives data, and the refusal
// shows in /metrics.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "meshkv/v1/cluster.grpc.pb.h"
#include "tests/util/kv_client.h"
#include "tests/util/node_probe.h"
#include "tests/util/server_process.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_certs.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::PeersOf;
using ::meshkv::testing::SampleOf;
using ::meshkv::testing::ScrapeMetrics;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::TestCerts;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
namespace v1 = ::meshkv::v1;

class MeshTlsProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string ca_key = certs_.Path("ca/ca.key");
    ASSERT_OK(certs_.Run({"create-ca", "--certs-dir", certs_.Path("ca")}));
    for (const char* id : {"n1", "n2", "n3"}) {
      ASSERT_OK(certs_.Run({"create-node", "--certs-dir", certs_.Path(id), "--ca-key", ca_key,
                            "--node-id", id, "--host", "127.0.0.1"}));
    }
    ASSERT_OK(certs_.Run({"create-ca", "--certs-dir", certs_.Path("other-ca")}));
    ASSERT_OK(certs_.Run({"create-node", "--certs-dir", certs_.Path("n4"), "--ca-key",
                          certs_.Path("other-ca/ca.key"), "--node-id", "n4", "--host",
                          "127.0.0.1"}));
  }

  ServerProcess& StartNode(const std::string& id, std::vector<std::string> more = {}) {
    std::vector<std::string> flags = {"--node-id=" + id, "--certs-dir=" + certs_.Path(id)};
    for (auto& f : more) flags.push_back(std::move(f));
    nodes_.push_back(std::make_unique<ServerProcess>(std::move(flags)));
    ServerProcess& n = *nodes_.back();
    EXPECT_OK(n.Start());
    EXPECT_OK(n.WaitServing()) << n.Logs();
    return n;
  }

  TestCerts certs_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

TEST_F(MeshTlsProcessTest, MembersReplicateOverTlsAndAStrangerFromAnotherCaGetsNothing) {
  ServerProcess& n1 = StartNode("n1");
  ServerProcess& n2 = StartNode("n2", {"--join=" + n1.mesh_addr()});
  ServerProcess& n3 = StartNode("n3", {"--join=" + n1.mesh_addr()});
  Client c1(n1), c2(n2), c3(n3);
  ASSERT_TRUE(c1.Set("from-n1", "a").ok());
  ASSERT_TRUE(c3.Set("from-n3", "b").ok());
  for (Client* c : {&c1, &c2, &c3}) {
    EXPECT_TRUE(c->WaitValue("from-n1", "a"));
    EXPECT_TRUE(c->WaitValue("from-n3", "b"));
  }
  ASSERT_TRUE(WaitFor([&] { return PeersOf(n1).size() == 2; }));
  EXPECT_THAT(PeersOf(n1), UnorderedElementsAre("n2", "n3"));
  const std::string refused_cert =
      "meshkv_mesh_connections_refused_total{reason=\"certificate\"}";
  EXPECT_EQ(SampleOf(ScrapeMetrics(n1.metrics_port()), refused_cert), 0);
  EXPECT_THAT(n1.Logs(), ::testing::Not(HasSubstr("plain TCP")));

  // A certificate from another CA: refused both ways, counted on n1.
  ServerProcess& n4 =
      StartNode("n4", {"--join=" + n1.mesh_addr(), "--initial-sync-timeout=1s"});
  ASSERT_TRUE(WaitFor(
      [&] { return SampleOf(ScrapeMetrics(n1.metrics_port()), refused_cert) >= 1; },
      absl::Seconds(15)))
      << ScrapeMetrics(n1.metrics_port());
  EXPECT_THAT(n1.Logs(), HasSubstr("peer refused our certificate: unknown CA"));
  EXPECT_THAT(n4.Logs(), HasSubstr("not signed by the cluster CA"));
  EXPECT_GE(SampleOf(ScrapeMetrics(n4.metrics_port()), refused_cert), 1);

  ASSERT_TRUE(c2.Set("after-n4", "c").ok());
  for (Client* c : {&c1, &c3}) EXPECT_TRUE(c->WaitValue("after-n4", "c"));
  Client c4(n4);
  for (const char* key : {"from-n1", "from-n3", "after-n4"}) {
    EXPECT_FALSE(c4.Get(key).has_value()) << key;
  }
  EXPECT_THAT(PeersOf(n4), ::testing::IsEmpty());
  EXPECT_THAT(PeersOf(n1), UnorderedElementsAre("n2", "n3"));
  // And nothing n4 writes reaches the members.
  ASSERT_TRUE(c4.Set("from-n4", "x").ok());
  ASSERT_TRUE(c1.Set("probe", "p").ok());
  EXPECT_TRUE(c2.WaitValue("probe", "p"));
  EXPECT_FALSE(c2.Get("from-n4").has_value());
}

// A node never runs its mesh unauthenticated unless told to: neither
// certificates nor --insecure, both at once, or unusable certificates stop it
// at start with a message that says what to pass.
TEST_F(MeshTlsProcessTest, ANodeWithoutAChoiceOfSecurityRefusesToStart) {
  ASSERT_OK(certs_.Run({"create-node", "--certs-dir", certs_.Path("old"), "--ca-key",
                        certs_.Path("ca/ca.key"), "--node-id", "old", "--days", "-1"}));
  const struct {
    std::vector<std::string> flags;
    std::map<std::string, std::string> env;
    std::string message;
  } cases[] = {
      // MESHKV_INSECURE=false: ServerProcess then adds no --insecure.
      {{}, {{"MESHKV_INSECURE", "false"}}, "the mesh needs certificates: pass --certs-dir DIR"},
      {{"--certs-dir=" + certs_.Path("n1"), "--insecure"}, {}, "not both"},
      {{"--tls-cert=" + certs_.Path("n1/node.crt")}, {}, "missing: --tls-ca --tls-key"},
      {{"--certs-dir=" + certs_.Path("old")}, {}, "expired at"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> flags = c.flags;
    flags.push_back("--node-id=n1");
    ServerProcess n(flags, c.env);
    EXPECT_FALSE(n.Start().ok());
    EXPECT_EQ(n.Wait(absl::Seconds(10)), 1) << n.Logs();
    EXPECT_THAT(n.Logs(), HasSubstr(c.message));
  }
  // --insecure alone starts, and says in its log what it means.
  ServerProcess plain({"--node-id=n1", "--insecure"});
  ASSERT_OK(plain.Start());
  EXPECT_THAT(plain.Logs(), HasSubstr("--insecure: the mesh runs plain TCP"));
}

}  // namespace
}  // namespace meshkv
