// Two real MeshDrivers on loopback, over mutual TLS with certificates made by
// scripts/certs.sh: members connect and replicate; a peer from another CA, a
// certificate claiming another node's ID, and a plaintext peer are refused,
// with the reason logged on both sides and counted by Refusal.
#include "peer/asio/mesh_driver.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/asio/tls_context.h"
#include "peer/core/map_replica.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_certs.h"
#include "tests/util/wait.h"

namespace meshkv::peer {
namespace {

using ::meshkv::testing::TestCerts;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;

// One cluster CA with nodes n1, n2, n3; another CA with its own n2.
class MeshDriverTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new TestCerts();
    const std::string ca_key = certs_->Path("ca/ca.key");
    auto run = [](const std::vector<std::string>& args) { ASSERT_OK(certs_->Run(args)); };
    run({"create-ca", "--certs-dir", certs_->Path("ca")});
    for (const char* id : {"n1", "n2", "n3"}) {
      run({"create-node", "--certs-dir", certs_->Path(id), "--ca-key", ca_key, "--node-id", id,
           "--host", "127.0.0.1"});
    }
    run({"create-ca", "--certs-dir", certs_->Path("other-ca")});
    run({"create-node", "--certs-dir", certs_->Path("other-n2"), "--ca-key",
         certs_->Path("other-ca/ca.key"), "--node-id", "n2", "--host", "127.0.0.1"});
  }
  static void TearDownTestSuite() { delete certs_; }

  static TransportFactory Tls(const std::string& dir) {
    auto ctx = MakeMeshTlsContext(TlsFilesFromCertsDir(certs_->Path(dir)));
    EXPECT_OK(ctx.status());
    return TransportFactory::Tls(*ctx);
  }

  // A node: a driver, its replica, and the lines it logged.
  struct Node {
    std::unique_ptr<MeshDriver> driver;
    MapReplica replica;
    absl::Mutex mu;
    std::vector<std::string> logs ABSL_GUARDED_BY(mu);

    // "msg key=value ..." lines with `part` in them.
    bool Logged(absl::string_view part) {
      absl::MutexLock lock(&mu);
      for (const auto& l : logs) {
        if (absl::StrContains(l, part)) return true;
      }
      return false;
    }
    std::string AllLogs() {
      absl::MutexLock lock(&mu);
      return absl::StrJoin(logs, "\n");
    }
    MeshStats stats() { return driver->Snapshot().stats; }
    uint64_t refused(Refusal r) { return stats().refused[static_cast<size_t>(r)]; }
    int established() {
      int n = 0;
      for (const PeerStatus& p : driver->Snapshot().peers) n += p.state == "established";
      return n;
    }
  };

  // Starts node `id` on a transport from `transports`, dialling `seed` if
  // not null.
  std::unique_ptr<Node> StartNode(const std::string& id, TransportFactory transports,
                                  const Node* seed = nullptr) {
    auto n = std::make_unique<Node>();
    auto d = MeshDriver::Bind("127.0.0.1:0", std::move(transports));
    EXPECT_OK(d.status());
    n->driver = std::move(*d);
    MeshOptions o;
    o.node_id = id;
    o.advertise_addr = absl::StrCat("127.0.0.1:", n->driver->port());
    o.cluster = "tls-test";
    o.incarnation_ms = 1;
    o.reconnect_min_ms = 100;
    o.initial_sync_timeout_ms = 500;
    if (seed != nullptr) o.seeds = {absl::StrCat("127.0.0.1:", seed->driver->port())};
    Node* raw = n.get();
    n->driver->Start(
        std::move(o), &n->replica,
        [raw](LogLevel, const std::string& msg,
              std::vector<std::pair<std::string, std::string>> fields) {
          std::string line = msg;
          for (const auto& [k, v] : fields) absl::StrAppend(&line, " ", k, "=", v);
          absl::MutexLock lock(&raw->mu);
          raw->logs.push_back(std::move(line));
        },
        nullptr);
    return n;
  }

  static TestCerts* certs_;
};

TestCerts* MeshDriverTlsTest::certs_ = nullptr;

TEST_F(MeshDriverTlsTest, MembersOfOneCaConnectAndReplicate) {
  auto a = StartNode("n1", Tls("n1"));
  auto b = StartNode("n2", Tls("n2"), a.get());
  ASSERT_TRUE(WaitFor([&] { return a->established() == 1 && b->established() == 1; }))
      << a->AllLogs() << "\n--\n" << b->AllLogs();
  std::vector<PeerStatus> peers = a->driver->Snapshot().peers;
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].node_id, "n2");

  a->driver->Broadcast({MapReplica::MakeRecord("k", "v", /*hlc=*/10, "n1")});
  ASSERT_TRUE(WaitFor([&] { return b->stats().writes_applied == 1; }));
  for (Node* n : {a.get(), b.get()}) {
    for (size_t r = 0; r < kRefusalKinds; ++r) EXPECT_EQ(n->stats().refused[r], 0u) << r;
  }
  b->driver->Shutdown(absl::Seconds(1));
  EXPECT_EQ(b->replica.Get("k"), "v");
}

TEST_F(MeshDriverTlsTest, APeerFromAnotherCaIsRefusedOnBothSides) {
  auto a = StartNode("n1", Tls("n1"));
  auto b = StartNode("n2", Tls("other-n2"), a.get());
  ASSERT_TRUE(WaitFor([&] {
    return a->refused(Refusal::kCertificate) >= 1 && b->refused(Refusal::kCertificate) >= 1;
  })) << a->AllLogs() << "\n--\n" << b->AllLogs();
  // The dialler checks the server's certificate first: it does not chain to
  // its CA; the server hears so as an alert.
  EXPECT_TRUE(b->Logged("not signed by the cluster CA")) << b->AllLogs();
  EXPECT_TRUE(a->Logged("peer refused our certificate: unknown CA")) << a->AllLogs();
  a->driver->Broadcast({MapReplica::MakeRecord("k", "v", /*hlc=*/10, "n1")});
  EXPECT_EQ(a->established(), 0);
  EXPECT_EQ(b->established(), 0);
  EXPECT_EQ(b->stats().writes_received, 0u);
  EXPECT_EQ(b->stats().sync_keys_repaired, 0u);
}

TEST_F(MeshDriverTlsTest, AHelloClaimingAnotherIdThanTheCertificateIsRefused) {
  auto a = StartNode("n3", Tls("n3"));
  auto b = StartNode("n1", Tls("n2"), a.get());  // n2's certificate, claiming n1
  ASSERT_TRUE(WaitFor([&] { return a->refused(Refusal::kNodeIdMismatch) >= 1; }))
      << a->AllLogs();
  EXPECT_TRUE(a->Logged("refusing peer peer=n2")) << a->AllLogs();
  EXPECT_TRUE(a->Logged("peer claims node ID \"n1\" but its certificate names \"n2\""))
      << a->AllLogs();
  // The claimant hears why in the Goodbye.
  ASSERT_TRUE(WaitFor([&] {
    return b->Logged("reason=REFUSED detail=peer claims node ID \"n1\" but its certificate "
                     "names \"n2\"");
  })) << b->AllLogs();
  EXPECT_GE(a->stats().handshakes_refused, 1u);
  EXPECT_EQ(a->established(), 0);
  EXPECT_EQ(a->refused(Refusal::kCertificate), 0u);
}

TEST_F(MeshDriverTlsTest, APlaintextPeerIsRefused) {
  auto a = StartNode("n1", Tls("n1"));
  auto b = StartNode("n2", TransportFactory::Plain(), a.get());
  ASSERT_TRUE(WaitFor([&] { return a->refused(Refusal::kCertificate) >= 1; })) << a->AllLogs();
  EXPECT_TRUE(a->Logged("does not speak TLS")) << a->AllLogs();
  EXPECT_EQ(a->established(), 0);
  EXPECT_EQ(b->established(), 0);
}

TEST_F(MeshDriverTlsTest, PlainDriversStillConnect) {
  auto a = StartNode("n1", TransportFactory::Plain());
  auto b = StartNode("n2", TransportFactory::Plain(), a.get());
  ASSERT_TRUE(WaitFor([&] { return a->established() == 1 && b->established() == 1; }));
  b->driver->Broadcast({MapReplica::MakeRecord("k", "v", /*hlc=*/10, "n2")});
  ASSERT_TRUE(WaitFor([&] { return a->stats().writes_applied == 1; }));
}

}  // namespace
}  // namespace meshkv::peer
