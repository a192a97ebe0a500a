// Real meshkv-server processes on loopback, talking over the real mesh, with
// real gRPC clients: the scenarios every replicated dictionary must survive.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "meshkv/v1/cluster.grpc.pb.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tests/util/kv_client.h"
#include "tests/util/node_probe.h"
#include "tests/util/server_process.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::PeersOf;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;
namespace v1 = ::meshkv::v1;

class ClusterTest : public ::testing::Test {
 protected:
  // Starts a node and waits until it serves.
  ServerProcess& StartNode(std::vector<std::string> flags) {
    nodes_.push_back(std::make_unique<ServerProcess>(std::move(flags)));
    ServerProcess& n = *nodes_.back();
    EXPECT_TRUE(n.Start().ok());
    absl::Status serving = n.WaitServing();
    EXPECT_TRUE(serving.ok()) << serving;
    return n;
  }
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

// (a) The seed's storage scenario, on a chain: node1 joins node0, node2
// joins node1.
TEST_F(ClusterTest, SeedStorageScenarioOnAChain) {
  ServerProcess& n0 = StartNode({"--node-id=node0"});
  Client c0(n0);
  ASSERT_TRUE(c0.Set("store", "before anyone joined").ok());
  ServerProcess& n1 = StartNode({"--node-id=node1", "--join=" + n0.mesh_addr()});
  ServerProcess& n2 = StartNode({"--node-id=node2", "--join=" + n1.mesh_addr()});
  Client c1(n1), c2(n2);

  ASSERT_TRUE(c0.Set("test", "hello").ok());
  ASSERT_TRUE(c1.Set("测试", "成功").ok());
  ASSERT_TRUE(c0.Update({{"array", "[1, 2]"}, {"number", "42"}}).ok());
  for (Client* c : {&c0, &c1, &c2}) {
    EXPECT_TRUE(c->WaitValue("store", "before anyone joined"));
    EXPECT_TRUE(c->WaitValue("test", "hello"));
    EXPECT_TRUE(c->WaitValue("测试", "成功"));
    EXPECT_TRUE(c->WaitValue("array", "[1, 2]"));
    EXPECT_TRUE(c->WaitValue("number", "42"));
    EXPECT_FALSE(c->Get("test2").has_value());
  }
  EXPECT_EQ(c2.Get("test")->meta().owner(), "node0");
  EXPECT_EQ(c2.Get("测试")->meta().owner(), "node1");
  grpc::Status refused = c1.Set("test", "not yours");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("node0"));
  EXPECT_EQ(c1.Get("test")->value().bytes(), "hello");
}

// (b) Leasing off: concurrent deltas to one key from three nodes merge.
TEST_F(ClusterTest, WithLeasingOffConcurrentDeltasMergeIntoTheUnion) {
  ServerProcess& n0 = StartNode({"--node-id=node0", "--leasing=false"});
  ServerProcess& n1 = StartNode({"--node-id=node1", "--leasing=false", "--join=" + n0.mesh_addr()});
  ServerProcess& n2 = StartNode({"--node-id=node2", "--leasing=false", "--join=" + n0.mesh_addr()});
  std::vector<std::unique_ptr<Client>> clients;
  for (ServerProcess* n : {&n0, &n1, &n2}) clients.push_back(std::make_unique<Client>(*n));
  std::vector<std::thread> writers;
  for (int i = 0; i < 3; ++i) {
    writers.emplace_back([&, i] {
      for (int f = 0; f < 20; ++f) {
        EXPECT_TRUE(clients[i]->ApplyDelta("store", {{absl::StrCat("n", i, "-f", f), "x"}}).ok());
      }
    });
  }
  for (auto& t : writers) t.join();
  for (auto& c : clients) {
    EXPECT_TRUE(WaitFor(
        [&] {
          auto e = c->Get("store");
          return e && e->value().mapping().fields_size() == 60;
        },
        absl::Seconds(20)));
  }
}

// (c) A delete reaches every node, and every node's watchers see it.
TEST_F(ClusterTest, ADeleteReachesEveryNodeAndEveryWatch) {
  ServerProcess& n0 = StartNode({"--node-id=node0"});
  ServerProcess& n1 = StartNode({"--node-id=node1", "--join=" + n0.mesh_addr()});
  ServerProcess& n2 = StartNode({"--node-id=node2", "--join=" + n1.mesh_addr()});
  Client c0(n0), c1(n1), c2(n2);
  ASSERT_TRUE(c0.Set("doomed", "v").ok());
  for (Client* c : {&c1, &c2}) ASSERT_TRUE(c->WaitValue("doomed", "v"));

  struct Watch {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::WatchResponse>> reader;
  };
  std::vector<std::unique_ptr<Watch>> watches;
  for (Client* c : {&c0, &c1, &c2}) {
    auto w = std::make_unique<Watch>();
    v1::WatchRequest req;
    req.set_prefix("doomed");
    w->reader = c->stub()->Watch(&w->ctx, req);
    v1::WatchResponse created;
    ASSERT_TRUE(w->reader->Read(&created) && created.created());
    watches.push_back(std::move(w));
  }
  ASSERT_TRUE(c0.Delete("doomed").ok());
  for (size_t i = 0; i < watches.size(); ++i) {
    v1::WatchResponse r;
    ASSERT_TRUE(watches[i]->reader->Read(&r)) << "node " << i;
    ASSERT_EQ(r.events_size(), 1);
    EXPECT_EQ(r.events(0).type(), v1::Event::DELETE);
    EXPECT_EQ(r.events(0).entry().key(), "doomed");
    EXPECT_EQ(r.events(0).entry().meta().owner(), "node0");
    watches[i]->ctx.TryCancel();
  }
  for (Client* c : {&c0, &c1, &c2}) EXPECT_FALSE(c->Get("doomed").has_value());
}

// (d) kill -9, writes meanwhile, restart with the same node ID: it catches
// up and still owns its keys.
TEST_F(ClusterTest, AKilledNodeRestartsCatchesUpAndKeepsItsLeases) {
  ServerProcess& n0 = StartNode({"--node-id=node0"});
  ServerProcess& n1 = StartNode({"--node-id=node1", "--join=" + n0.mesh_addr()});
  ServerProcess& n2 = StartNode({"--node-id=node2", "--join=" + n0.mesh_addr()});
  Client c0(n0), c1(n1);
  {
    Client c2(n2);
    ASSERT_TRUE(c2.Set("owned-by-2", "mine").ok());
  }
  ASSERT_TRUE(c0.WaitValue("owned-by-2", "mine"));
  const std::string mesh = n2.mesh_addr();
  n2.Kill();
  ASSERT_EQ(n2.Wait(), 128 + SIGKILL);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c0.Set(absl::StrCat("meanwhile", i), "x").ok());
  ASSERT_TRUE(c1.Set("from-1", "y").ok());

  ServerProcess& again = StartNode({"--node-id=node2", "--mesh-addr=" + mesh,
                                    "--join=" + n0.mesh_addr() + "," + n1.mesh_addr()});
  Client c2(again);
  // SERVING means synced: the catch-up is already there.
  EXPECT_EQ(c2.Get("meanwhile49")->value().bytes(), "x");
  EXPECT_TRUE(c2.WaitValue("from-1", "y"));
  EXPECT_EQ(c2.Get("owned-by-2")->meta().owner(), "node2");
  EXPECT_EQ(c1.Set("owned-by-2", "taken").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(c2.Set("owned-by-2", "still mine").ok());
  EXPECT_TRUE(c1.WaitValue("owned-by-2", "still mine"));
}

// (e) A node of another cluster, or of the other leasing mode, is refused;
// the cluster goes on.
TEST_F(ClusterTest, MismatchedNodesAreRefusedAndTheClusterGoesOn) {
  ServerProcess& n0 = StartNode({"--node-id=node0", "--cluster=blue"});
  ServerProcess& n1 = StartNode({"--node-id=node1", "--cluster=blue", "--join=" + n0.mesh_addr()});
  // Refused everywhere, they serve alone once the initial sync times out.
  ServerProcess& red = StartNode(
      {"--node-id=red", "--cluster=red", "--join=" + n0.mesh_addr(), "--initial-sync-timeout=1s"});
  ServerProcess& open = StartNode({"--node-id=open", "--cluster=blue", "--leasing=false",
                                   "--join=" + n0.mesh_addr(), "--initial-sync-timeout=1s"});
  Client c0(n0), c1(n1), c_red(red), c_open(open);
  ASSERT_TRUE(c0.Set("k", "blue").ok());
  EXPECT_TRUE(c1.WaitValue("k", "blue"));
  // Both sides of each refusal log the reason.
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(n0.Logs(), "cluster \\\"red\\\" is not \\\"blue\\\"") &&
               absl::StrContains(red.Logs(), "cluster \\\"blue\\\" is not \\\"red\\\"") &&
               absl::StrContains(n0.Logs(), "leasing is off there and on here") &&
               absl::StrContains(open.Logs(), "leasing is on there and off here");
      },
      absl::Seconds(20)))
      << n0.Logs() << red.Logs() << open.Logs();
  EXPECT_FALSE(c_red.Get("k").has_value());
  EXPECT_FALSE(c_open.Get("k").has_value());
  ASSERT_TRUE(c1.Set("k2", "still fine").ok());
  EXPECT_TRUE(c0.WaitValue("k2", "still fine"));
  for (ServerProcess* n : {&n0, &n1, &red, &open}) EXPECT_TRUE(n->running());
}

// A second node started on ports the first one holds exits at once with a
// clear message, rather than sharing the gRPC port (gRPC's SO_REUSEPORT
// default would) or crashing on the way out.
TEST_F(ClusterTest, ANodeOnBusyPortsExitsWithAClearError) {
  ServerProcess& n0 = StartNode({"--node-id=node0"});
  const std::string metrics = absl::StrCat("127.0.0.1:", n0.metrics_port());
  const struct {
    std::vector<std::string> flags;
    std::string message;
  } cases[] = {
      {{"--grpc-addr=" + n0.grpc_addr()}, "cannot listen for gRPC on " + n0.grpc_addr()},
      {{"--mesh-addr=" + n0.mesh_addr()}, "cannot listen for the mesh on " + n0.mesh_addr()},
      {{"--metrics-addr=" + metrics}, "cannot serve metrics on " + metrics},
  };
  for (const auto& c : cases) {
    std::vector<std::string> flags = c.flags;
    flags.push_back("--node-id=node1");
    ServerProcess n1(flags);
    EXPECT_FALSE(n1.Start().ok());
    EXPECT_EQ(n1.Wait(absl::Seconds(10)), 1) << n1.Logs();
    EXPECT_THAT(n1.Logs(), HasSubstr(c.message));
  }
  Client c0(n0);
  EXPECT_TRUE(c0.Set("k", "still serving").ok());
}

// SIGTERM on a node under write load: it exits 0, its peers drop it at once
// (a goodbye, not a heartbeat timeout), and every write it acknowledged
// reaches them.
TEST_F(ClusterTest, SigtermLosesNoAcknowledgedWriteAndPeersNoticeAtOnce) {
  ServerProcess& n0 = StartNode({"--node-id=node0"});
  ServerProcess& n1 = StartNode({"--node-id=node1", "--join=" + n0.mesh_addr()});
  ServerProcess& n2 = StartNode({"--node-id=node2", "--join=" + n0.mesh_addr()});
  ASSERT_TRUE(WaitFor([&] { return PeersOf(n0).size() == 2; }));
  Client c0(n0), c1(n1), c2(n2);
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      const std::string key = absl::StrCat("w", i);
      if (c1.Set(key, "x").ok()) acknowledged.push_back(key);
    }
  });
  ASSERT_TRUE(WaitFor([&] { return c0.Get("w200").has_value(); }));
  n1.Terminate();
  const absl::Time signalled = absl::Now();
  // Well inside the 5 s failure timeout.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto p0 = PeersOf(n0), p2 = PeersOf(n2);
        return std::count(p0.begin(), p0.end(), "node1") == 0 &&
               std::count(p2.begin(), p2.end(), "node1") == 0;
      },
      absl::Seconds(2), absl::Milliseconds(5)));
  const absl::Duration noticed = absl::Now() - signalled;
  EXPECT_EQ(n1.Wait(), 0);
  stop = true;
  writer.join();
  EXPECT_THAT(n0.Logs(), HasSubstr("SHUTDOWN"));
  ASSERT_GT(acknowledged.size(), 200u);
  for (const std::string& key : acknowledged) {
    ASSERT_TRUE(c0.Get(key).has_value()) << key << " acknowledged by node1, missing on node0";
    ASSERT_TRUE(c2.Get(key).has_value()) << key << " acknowledged by node1, missing on node2";
  }
  std::cerr << acknowledged.size() << " acknowledged writes all replicated; peers noticed in "
            << absl::FormatDuration(noticed) << "\n";
}

// A node stopped by SIGTERM exits at once, so that it can be started again
// on the same ports straight away (scripts/run.sh stop, then start).
// Destroying the metrics exposer used to take up to 2 s (civetweb's
// listener polls with that timeout), and the node held its ports meanwhile.
TEST_F(ClusterTest, SigtermExitsAtOnceAndTheNodeRestartsOnItsPorts) {
  ServerProcess& first = StartNode({"--node-id=node0"});
  ASSERT_TRUE(Client(first).Set("k", "v").ok());
  const std::vector<std::string> same_ports = {
      "--node-id=node0", "--grpc-addr=" + first.grpc_addr(), "--mesh-addr=" + first.mesh_addr(),
      absl::StrCat("--metrics-addr=127.0.0.1:", first.metrics_port())};
  first.Terminate();
  EXPECT_EQ(first.Wait(absl::Seconds(1)), 0) << first.Logs();
  ServerProcess& again = StartNode(same_ports);
  EXPECT_EQ(again.grpc_addr(), first.grpc_addr());
  EXPECT_TRUE(Client(again).Set("k", "again").ok()) << again.Logs();
}

// Connects to the mesh port of `node` and sends `bytes`; returns the socket.
int Connect(const ServerProcess& node) {
  const std::string addr = node.mesh_addr();
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(addr.substr(addr.rfind(':') + 1), &port));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  return fd;
}

// True when the peer closed `fd` (read returns 0 or an error) in time.
bool ClosedByPeer(int fd) {
  return WaitFor(
      [&] {
        char buf[4096];
        const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
      },
      absl::Seconds(20));
}

// (f) Hostile bytes on the mesh port close that connection and are counted;
// the node keeps replicating and answering.
TEST_F(ClusterTest, HostileBytesOnTheMeshPortCloseOnlyThatConnection) {
  ServerProcess& n0 = StartNode({"--node-id=node0", "--log-level=warning"});
  ServerProcess& n1 = StartNode({"--node-id=node1", "--join=" + n0.mesh_addr()});
  Client c0(n0), c1(n1);

  // Garbage.
  const int garbage = Connect(n0);
  const std::string http = "GET / HTTP/1.1\r\nHost: meshkv\r\n\r\n";
  ASSERT_GT(send(garbage, http.data(), http.size(), 0), 0);
  EXPECT_TRUE(ClosedByPeer(garbage));
  close(garbage);
  // A valid header announcing a 3 GiB body.
  const int oversized = Connect(n0);
  const unsigned char header[12] = {1, 1, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(send(oversized, header, sizeof(header), 0), 12);
  EXPECT_TRUE(ClosedByPeer(oversized));
  close(oversized);
  // Many idle half-open connections that never say hello.
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(Connect(n0));

  ASSERT_TRUE(c0.Set("after-attacks", "ok").ok());
  EXPECT_TRUE(c1.WaitValue("after-attacks", "ok"));
  ASSERT_TRUE(c1.Set("back", "ok").ok());
  EXPECT_TRUE(c0.WaitValue("back", "ok"));
  EXPECT_THAT(n0.Logs(), HasSubstr("protocol error"));
  // The idle ones are closed by the handshake timeout.
  for (int fd : idle) {
    EXPECT_TRUE(ClosedByPeer(fd));
    close(fd);
  }
  ASSERT_TRUE(c0.Set("after-idle", "ok").ok());
  EXPECT_TRUE(c1.WaitValue("after-idle", "ok"));
}

}  // namespace
}  // namespace meshkv
