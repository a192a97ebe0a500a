// Two real MeshDrivers on loopback, over mutual TLS with certificates made by
// scripts/certs.sh: members connect and replicate; a peer from another CA, a
// certificate claiming another node's ID, and a plaintext peer are refused,
// with the reason logged on both sides and counted by Refusal.
#include "peer/asio/mesh_driver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <functional>
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
#include "asio/connect.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "peer/asio/tls_context.h"
#include "peer/core/frame.h"
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
    run({"create-node", "--certs-dir", certs_->Path("expired-n2"), "--ca-key", ca_key, "--node-id",
         "n2", "--host", "127.0.0.1", "--days", "-1"});
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

  // As Tls(), without MakeMeshTlsContext's checks of the files: an expired
  // certificate loads.
  static TransportFactory UncheckedTls(const std::string& dir) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
    const TlsFiles files = TlsFilesFromCertsDir(certs_->Path(dir));
    ctx->load_verify_file(files.ca_file);
    ctx->use_certificate_chain_file(files.cert_file);
    ctx->use_private_key_file(files.key_file, asio::ssl::context::pem);
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    return TransportFactory::Tls(ctx);
  }

  // A node: a driver, its replica, and the lines it logged.
  struct Node {
    MapReplica replica;
    absl::Mutex mu;
    std::vector<std::string> logs ABSL_GUARDED_BY(mu);
    // Last, so it is destroyed first: its threads log into `logs` and apply
    // to `replica` until it stops.
    std::unique_ptr<MeshDriver> driver;

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
                                  const Node* seed = nullptr,
                                  std::function<void(MeshOptions&)> tweak = nullptr) {
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
    if (tweak) tweak(o);
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

// Both sides of a connection refused for an expiry name it and count it
// apart, whichever side holds the expired certificate.
TEST_F(MeshDriverTlsTest, AnExpiredCertificateIsRefusedAndBothSidesSayItExpired) {
  auto a = StartNode("n1", Tls("n1"));
  auto b = StartNode("n2", UncheckedTls("expired-n2"), a.get());  // b dials a
  ASSERT_TRUE(WaitFor([&] {
    return a->refused(Refusal::kCertificateExpired) >= 1 &&
           b->refused(Refusal::kCertificateExpired) >= 1;
  })) << a->AllLogs()
      << "\n--\n"
      << b->AllLogs();
  EXPECT_TRUE(a->Logged("expired at 20")) << a->AllLogs();
  EXPECT_TRUE(b->Logged("peer refused our certificate: expired")) << b->AllLogs();
  auto c = StartNode("n3", Tls("n3"), b.get());  // c dials the expired one
  ASSERT_TRUE(WaitFor([&] { return c->refused(Refusal::kCertificateExpired) >= 1; }))
      << c->AllLogs();
  EXPECT_TRUE(c->Logged("expired at 20")) << c->AllLogs();
  for (Node* n : {a.get(), b.get(), c.get()}) {
    EXPECT_EQ(n->refused(Refusal::kCertificate), 0u);
    EXPECT_EQ(n->established(), 0);
  }
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

// ---------------------------------------------------------------------------
// Before the handshake, on real sockets: a stranger's bytes are bounded.

// A raw TCP connection to `port` on loopback (-1 on failure).
int ConnectRaw(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True once the peer has closed `fd` (EOF or reset), within the deadline;
// bytes it sent before (a Hello, a Goodbye) are skipped.
bool ClosedByPeer(int fd, absl::Duration timeout = absl::Seconds(10)) {
  return WaitFor(
      [fd] {
        char buf[4096];
        const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
      },
      timeout);
}

// A frame header announcing `length` bytes of Hello, with no body.
std::string HelloHeader(uint32_t length) {
  std::string h(kFrameHeaderBytes, '\0');
  h[0] = static_cast<char>(kProtocolVersion);
  h[1] = static_cast<char>(FrameType::kHello);
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>(length >> (24 - 8 * i));
  return h;
}

TEST_F(MeshDriverTlsTest, AnOversizedFrameBeforeTheHelloClosesAPlainConnection) {
  auto a = StartNode("n1", TransportFactory::Plain());
  const int fd = ConnectRaw(a->driver->port());
  ASSERT_GE(fd, 0);
  const std::string header = HelloHeader(16 << 20);  // 16 MiB: the members' limit
  ASSERT_EQ(send(fd, header.data(), header.size(), 0), static_cast<ssize_t>(header.size()));
  EXPECT_TRUE(ClosedByPeer(fd));
  close(fd);
  EXPECT_EQ(a->refused(Refusal::kFrameTooLarge), 1u);
}

TEST_F(MeshDriverTlsTest, AnOversizedFrameBeforeTheHelloClosesATlsConnection) {
  auto a = StartNode("n1", Tls("n1"));
  // A holder of a member's certificate, past TLS but not yet through the
  // Hello, announces a 16 MiB frame.
  asio::io_context io;
  std::shared_ptr<Transport> t = Tls("n2").New(io);
  asio::error_code ec;
  t->socket().connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), a->driver->port()), ec);
  ASSERT_FALSE(ec) << ec.message();
  absl::Status handshake = absl::UnknownError("not run");
  t->AsyncHandshake(Transport::Side::kClient, [&](absl::Status s) { handshake = s; });
  io.run();
  ASSERT_OK(handshake);
  const std::string header = HelloHeader(16 << 20);
  io.restart();
  t->AsyncWrite(asio::buffer(header), [](const asio::error_code&, size_t) {});
  io.run();
  // The node's Hello, its Goodbye, then the end of the stream.
  std::string got;
  std::array<char, 4096> buf;
  std::function<void(const asio::error_code&, size_t)> on_read;
  asio::error_code end;
  on_read = [&](const asio::error_code& e, size_t n) {
    if (e) {
      end = e;
      return;
    }
    got.append(buf.data(), n);
    t->AsyncReadSome(asio::buffer(buf), on_read);
  };
  io.restart();
  t->AsyncReadSome(asio::buffer(buf), on_read);
  io.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(end) << "the node did not close the connection";
  EXPECT_THAT(got, HasSubstr("exceeds the maximum of 65536"));
  t->Close();
  EXPECT_EQ(a->refused(Refusal::kFrameTooLarge), 1u);
  EXPECT_EQ(a->refused(Refusal::kCertificate), 0u);
}

TEST_F(MeshDriverTlsTest, AFloodOfPendingHandshakesIsCappedAndMembersStillJoin) {
  constexpr int kCap = 8;
  auto a = StartNode("n1", Tls("n1"), nullptr,
                     [](MeshOptions& o) { o.max_pending_handshakes = kCap; });
  // Strangers that connect and never start TLS.
  std::vector<int> flood;
  for (int i = 0; i < kCap + 20; ++i) flood.push_back(ConnectRaw(a->driver->port()));
  ASSERT_TRUE(WaitFor([&] { return a->refused(Refusal::kTooManyPending) == 20u; }))
      << a->refused(Refusal::kTooManyPending);
  // Those over the cap are closed at once; the first kCap wait for their
  // handshake timeout.
  int closed = 0;
  for (int fd : flood) closed += ClosedByPeer(fd, absl::Milliseconds(200));
  EXPECT_EQ(closed, 20);
  for (int fd : flood) close(fd);
  // Gone strangers free their places: a member joins and replicates.
  auto b = StartNode("n2", Tls("n2"), a.get());
  ASSERT_TRUE(WaitFor([&] { return a->established() == 1 && b->established() == 1; }))
      << a->AllLogs();
  b->driver->Broadcast({MapReplica::MakeRecord("k", "v", /*hlc=*/10, "n2")});
  ASSERT_TRUE(WaitFor([&] { return a->stats().writes_applied == 1; }));
}

TEST_F(MeshDriverTlsTest, OneHostCannotTakeEveryPendingHandshakePlace) {
  auto a = StartNode("n1", Tls("n1"), nullptr,
                     [](MeshOptions& o) { o.max_pending_handshakes_per_host = 4; });
  std::vector<int> flood;
  for (int i = 0; i < 10; ++i) flood.push_back(ConnectRaw(a->driver->port()));
  // 64 places in all, 4 of them for 127.0.0.1.
  ASSERT_TRUE(WaitFor([&] { return a->refused(Refusal::kTooManyPending) == 6u; }))
      << a->refused(Refusal::kTooManyPending);
  for (int fd : flood) close(fd);
  auto b = StartNode("n2", Tls("n2"), a.get());
  ASSERT_TRUE(WaitFor([&] { return a->established() == 1 && b->established() == 1; }))
      << a->AllLogs();
}

}  // namespace
}  // namespace meshkv::peer
