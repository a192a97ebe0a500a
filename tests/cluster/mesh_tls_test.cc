// Real meshkv-server processes over mutual TLS on the mesh: three members
// with certificates from one CA replicate; a fourth, whose certificate comes
// from another CA, is refused by them, never receives data, and the refusal
// shows in /metrics. Then the attacks of issue 10, each played by the test
// itself on a real socket (RawPeer: a member's or a stranger's certificate,
// the project's framing): each fails, is counted, and the cluster still
// replicates afterwards.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asio/ssl/context.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "meshkv/v1/cluster.grpc.pb.h"
#include "peer/asio/tls_context.h"
#include "peer/asio/transport.h"
#include "peer/core/frame.h"
#include "tests/cluster/raw_peer.h"
#include "tests/util/kv_client.h"
#include "tests/util/node_probe.h"
#include "tests/util/server_process.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_certs.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::peer::FrameType;
using ::meshkv::peer::TransportFactory;
using ::meshkv::testing::Client;
using ::meshkv::testing::PeersOf;
using ::meshkv::testing::RawPeer;
using ::meshkv::testing::SampleOf;
using ::meshkv::testing::ScrapeMetrics;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::TestCerts;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
namespace v1 = ::meshkv::v1;
namespace wire = ::meshkv::mesh::v1;

// How often `part` occurs in `text`.
int Count(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

double Sample(const ServerProcess& n, const std::string& sample) {
  return SampleOf(ScrapeMetrics(n.metrics_port()), sample);
}

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

  // Node `id` on the certificates in certs_/<dir> (default: the ID).
  ServerProcess& StartNode(const std::string& id, std::vector<std::string> more = {},
                           const std::string& dir = "") {
    std::vector<std::string> flags = {"--node-id=" + id,
                                      "--certs-dir=" + certs_.Path(dir.empty() ? id : dir)};
    for (auto& f : more) flags.push_back(std::move(f));
    nodes_.push_back(std::make_unique<ServerProcess>(std::move(flags)));
    ServerProcess& n = *nodes_.back();
    EXPECT_OK(n.Start());
    EXPECT_OK(n.WaitServing()) << n.Logs();
    return n;
  }

  // A member certificate for `id` in certs_/<dir> (default: the ID), signed
  // by the cluster CA, on 127.0.0.1.
  void MakeMember(const std::string& id, std::vector<std::string> more = {},
                  const std::string& dir = "") {
    std::vector<std::string> args = {"create-node",
                                     "--certs-dir",
                                     certs_.Path(dir.empty() ? id : dir),
                                     "--ca-key",
                                     certs_.Path("ca/ca.key"),
                                     "--node-id",
                                     id,
                                     "--host",
                                     "127.0.0.1"};
    for (auto& a : more) args.push_back(std::move(a));
    ASSERT_OK(certs_.Run(args));
  }

  // TLS as a member holding the certificates in certs_/<dir>.
  TransportFactory MemberTls(const std::string& dir) {
    auto ctx = peer::MakeMeshTlsContext(peer::TlsFilesFromCertsDir(certs_.Path(dir)));
    EXPECT_OK(ctx.status());
    return TransportFactory::Tls(*ctx);
  }

  // TLS as a stranger would speak it: verifies nothing, presents the
  // certificate in certs_/<dir> (none when `dir` is empty) without the checks
  // MakeMeshTlsContext makes (an expired one, say).
  TransportFactory StrangerTls(const std::string& dir) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
    ctx->set_verify_mode(asio::ssl::verify_none);
    if (!dir.empty()) {
      ctx->use_certificate_chain_file(certs_.Path(dir + "/node.crt"));
      ctx->use_private_key_file(certs_.Path(dir + "/node.key"), asio::ssl::context::pem);
    }
    return TransportFactory::Tls(ctx);
  }

  // Connects `p` to `node` and completes the Hello exchange as `id` (the
  // node's own Hello tells the cluster's settings).
  static void JoinAs(RawPeer& p, const ServerProcess& node, const std::string& id,
                     const std::string& advertise = "127.0.0.1:1") {
    ASSERT_OK(p.Connect(node.mesh_addr()));
    wire::Hello theirs;
    ASSERT_TRUE(p.ReadUntil([&] { return p.Last(FrameType::kHello, &theirs); }));
    wire::Hello mine = theirs;
    mine.set_node_id(id);
    mine.set_advertise_addr(advertise);
    p.Send(FrameType::kHello, mine);
    // Established once the node sends its peer list.
    ASSERT_TRUE(p.ReadUntil([&] { return p.Got(FrameType::kPeerList); }));
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

// A member (its certificate in the attacker's hands) relays writes that claim
// n1's own origin, numbered as n1's next writes will be: n1 refuses them all,
// counts them, logs once, keeps its own value, and its next writes, under the
// same numbers, still reach n2.
TEST_F(MeshTlsProcessTest, AWriteClaimingTheNodesOwnOriginIsRefused) {
  MakeMember("n9");
  ServerProcess& n1 = StartNode("n1");
  ServerProcess& n2 = StartNode("n2", {"--join=" + n1.mesh_addr()});
  Client c1(n1), c2(n2);
  ASSERT_TRUE(c1.Set("owned-by-n1", "real").ok());
  ASSERT_TRUE(c2.WaitValue("owned-by-n1", "real"));

  RawPeer forger(MemberTls("n9"));
  JoinAs(forger, n1, "n9");
  // n1's heartbeat says how far its own writes are numbered.
  uint64_t mark = 0;
  ASSERT_TRUE(forger.ReadUntil([&] {
    wire::Ping ping;
    if (!forger.Last(FrameType::kPing, &ping)) return false;
    for (const wire::OriginMark& m : ping.seen()) {
      if (m.origin() == "n1") mark = m.seq();
    }
    return true;
  }));
  ASSERT_GT(mark, 0u);
  constexpr int kForged = 20;
  wire::WriteBatch batch;
  for (int i = 1; i <= kForged; ++i) {
    wire::Write* w = batch.add_writes();
    w->set_origin("n1");
    w->set_origin_seq(mark + static_cast<uint64_t>(i));
    wire::Record* r = w->mutable_record();
    r->set_key(i == 1 ? "owned-by-n1" : absl::StrCat("forged-", i));
    r->set_kind(wire::Record::BYTES);
    r->set_bytes("forged");
    r->mutable_version()->set_hlc(uint64_t{1} << 62);  // newer than anything
    r->mutable_version()->set_origin("n1");
  }
  forger.Send(FrameType::kWriteBatch, batch);
  const std::string refused = "meshkv_replication_own_origin_refused_total";
  ASSERT_TRUE(WaitFor([&] { return Sample(n1, refused) == kForged; })) << Sample(n1, refused);
  const char* logged = "refused forged writes claiming the origin of this node";
  EXPECT_EQ(Count(n1.Logs(), logged), 1) << n1.Logs();  // rate-limited: one line for 20
  EXPECT_THAT(n1.Logs(), HasSubstr("peer=n9"));
  EXPECT_EQ(c1.Get("owned-by-n1")->value().bytes(), "real");
  EXPECT_FALSE(c1.Get("forged-2").has_value());

  // n1's next writes carry the seqs the forger used: n2 takes every one.
  for (int i = 1; i <= kForged; ++i) ASSERT_TRUE(c1.Set(absl::StrCat("next-", i), "v").ok());
  for (int i = 1; i <= kForged; ++i) EXPECT_TRUE(c2.WaitValue(absl::StrCat("next-", i), "v"));
  EXPECT_EQ(Sample(n2, "meshkv_replication_duplicates_dropped_total"), 0);
  EXPECT_EQ(c2.Get("owned-by-n1")->value().bytes(), "real");
  EXPECT_FALSE(c2.Get("forged-2").has_value());
  EXPECT_EQ(Sample(n2, refused), 0);
}

// "Send me everything": a DigestOffer of all-zero digests makes a member
// answer with every key. From a stranger (plain TCP, TLS without a
// certificate, a certificate from another CA) or from a member before its
// Hello, it gets no byte of the dictionary, and each attempt is counted.
TEST_F(MeshTlsProcessTest, AStrangerAskingForTheWholeDictionaryGetsNothing) {
  MakeMember("n9");
  ServerProcess& n1 = StartNode("n1");
  ServerProcess& n2 = StartNode("n2", {"--join=" + n1.mesh_addr()});
  Client c1(n1), c2(n2);
  const std::string secret = "the-secret-value-0123456789";
  ASSERT_TRUE(c1.Set("secret-key", secret).ok());

  // The offer a member would make, sized from n1's Hello.
  std::string request;
  {
    RawPeer member(MemberTls("n9"));
    ASSERT_OK(member.Connect(n1.mesh_addr()));
    wire::Hello hello;
    ASSERT_TRUE(member.ReadUntil([&] { return member.Last(FrameType::kHello, &hello); }));
    wire::Hello mine = hello;
    mine.set_node_id("n9");
    peer::AppendFrame(FrameType::kHello, mine, &request);
    wire::DigestOffer offer;
    offer.set_session(1);
    for (uint32_t b = 0; b < hello.buckets(); ++b) offer.add_buckets(0);
    peer::AppendFrame(FrameType::kDigestOffer, offer, &request);
    // This one, offered before its Hello, is a protocol error.
    std::string offer_only;
    peer::AppendFrame(FrameType::kDigestOffer, offer, &offer_only);
    member.SendRaw(offer_only);
    ASSERT_TRUE(member.ReadUntil([&] { return member.closed(); }));
    EXPECT_THAT(member.bytes(), Not(HasSubstr(secret)));
    for (const RawPeer::Frame& f : member.frames()) {
      EXPECT_TRUE(f.type == FrameType::kHello || f.type == FrameType::kGoodbye)
          << peer::FrameTypeName(f.type);
    }
  }
  EXPECT_EQ(Sample(n1, "meshkv_mesh_protocol_errors_total"), 1);

  const std::string refused_cert = "meshkv_mesh_connections_refused_total{reason=\"certificate\"}";
  const double before = Sample(n1, refused_cert);
  std::vector<std::pair<std::string, TransportFactory>> strangers = {
      {"plain TCP", TransportFactory::Plain()},
      {"TLS without a certificate", StrangerTls("")},
      {"a certificate from another CA", StrangerTls("n4")},
  };
  for (auto& [who, transports] : strangers) {
    RawPeer stranger(transports);
    (void)stranger.Connect(n1.mesh_addr());  // a stranger does not care how it went
    stranger.SendRaw(request);
    EXPECT_TRUE(stranger.ReadUntil([&] { return stranger.closed(); })) << who;
    EXPECT_THAT(stranger.bytes(), Not(HasSubstr(secret))) << who;
    EXPECT_THAT(stranger.frames(), ::testing::IsEmpty()) << who;
  }
  ASSERT_TRUE(WaitFor([&] { return Sample(n1, refused_cert) == before + 3; }))
      << ScrapeMetrics(n1.metrics_port());
  ASSERT_TRUE(c1.Set("after", "a").ok());
  EXPECT_TRUE(c2.WaitValue("after", "a"));
  EXPECT_TRUE(c2.WaitValue("secret-key", secret));
}

// A member sends a peer list of 5,000 addresses where nothing listens: n1
// takes at most a list's worth, dials one of them at a time, forgets each
// after a few failed dials, never passes them on, and keeps replicating.
TEST_F(MeshTlsProcessTest, AHostilePeerListIsBoundedAndForgotten) {
  MakeMember("n9");
  ServerProcess& n1 = StartNode("n1");
  ServerProcess& n2 = StartNode("n2", {"--join=" + n1.mesh_addr()});
  Client c1(n1), c2(n2);
  ASSERT_TRUE(WaitFor([&] { return PeersOf(n1).size() == 1; }));
  const std::string known = "meshkv_peers_known";
  const std::string dials = "meshkv_mesh_connections_total{direction=\"out\"}";

  RawPeer hostile(MemberTls("n9"));
  JoinAs(hostile, n1, "n9");
  const double dials_before = Sample(n1, dials);
  wire::PeerList list;
  constexpr int kBogus = 5000;
  for (int i = 0; i < kBogus; ++i) {
    wire::PeerList::Peer* p = list.add_peers();
    p->set_node_id(absl::StrCat("bogus-", i));
    p->set_addr(absl::StrCat("127.0.0.1:", 30000 + i));  // below the ephemeral ports
  }
  hostile.Send(FrameType::kPeerList, list);

  // Sampled while n1 works through them: known peers stay within one list's
  // worth (n2, n9 and its address, the list's first 64), dials within one at a
  // time per tick.
  const absl::Time start = absl::Now();
  double most_known = 0;
  ASSERT_TRUE(WaitFor([&] { return Sample(n1, known) > 3; })) << "the list was not taken";
  ASSERT_TRUE(WaitFor(
      [&] {
        const double k = Sample(n1, known);
        most_known = std::max(most_known, k);
        return k <= 3;  // n2, n9 and n9's advertised address: the bogus ones forgotten
      },
      absl::Seconds(90), absl::Milliseconds(100)))
      << Sample(n1, known);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double dialled = Sample(n1, dials) - dials_before;
  EXPECT_LE(most_known, 3 + 64);
  // Each of 64 addresses dialled 3 times, plus n9's advertised address.
  EXPECT_LE(dialled, 64 * 3 + 20);
  EXPECT_GE(dialled, 64);
  // One dial in flight per 100 ms tick at most.
  EXPECT_LE(dialled, seconds * 10 + 20) << seconds;
  std::cout << "hostile list of " << kBogus << ": at most " << most_known << " known, " << dialled
            << " dials in " << seconds << " s until forgotten\n";

  // An address on a host n8's certificate does not name is not dialled.
  MakeMember("n8");
  RawPeer liar(MemberTls("n8"));
  JoinAs(liar, n1, "n8", "10.255.0.8:4444");
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(n1.Logs(), "not dialling the address a peer advertises");
  })) << n1.Logs();
  EXPECT_THAT(n1.Logs(), HasSubstr("addr=10.255.0.8:4444"));

  // n2 never heard of them: n1's lists carry only members it reached.
  EXPECT_LE(Sample(n2, known), 3);
  ASSERT_TRUE(c1.Set("after-list", "v").ok());
  EXPECT_TRUE(c2.WaitValue("after-list", "v"));
  EXPECT_THAT(PeersOf(n1), ::testing::Contains("n2"));
}

// Metric labels carry member IDs only, each at most 128 bytes: 60 strangers
// refused at TLS, and a member's certificate claiming a 1 MiB ID (over the
// pre-handshake frame cap) or a 60 KiB one (under it, but not the
// certificate's), leave n1's /metrics as large as it was.
TEST_F(MeshTlsProcessTest, StrangersAndHugeIdsDoNotGrowMetrics) {
  MakeMember("n9");
  ServerProcess& n1 = StartNode("n1");
  ServerProcess& n2 = StartNode("n2", {"--join=" + n1.mesh_addr()});
  Client c1(n1), c2(n2);
  ASSERT_TRUE(c1.Set("k", "v").ok());
  ASSERT_TRUE(c2.WaitValue("k", "v"));
  ASSERT_TRUE(WaitFor([&] { return PeersOf(n1).size() == 1; }));
  const std::string before = ScrapeMetrics(n1.metrics_port());

  auto hello = [](const std::string& id) {
    wire::Hello h;
    h.set_protocol_version(peer::kProtocolVersion);
    h.set_cluster("meshkv");
    h.set_node_id(id);
    h.set_advertise_addr("127.0.0.1:1");
    std::string frame;
    peer::AppendFrame(FrameType::kHello, h, &frame);
    return frame;
  };
  for (int i = 0; i < 60; ++i) {
    RawPeer stranger(i % 2 == 0 ? TransportFactory::Plain() : StrangerTls("n4"));
    (void)stranger.Connect(n1.mesh_addr());
    stranger.SendRaw(hello(absl::StrCat("stranger-", i, std::string(200, 's'))));
    EXPECT_TRUE(stranger.ReadUntil([&] { return stranger.closed(); })) << i;
  }
  for (size_t size : {size_t{1} << 20, size_t{60} << 10}) {
    RawPeer member(MemberTls("n9"));
    ASSERT_OK(member.Connect(n1.mesh_addr()));
    member.SendRaw(hello(std::string(size, 'x')));
    EXPECT_TRUE(member.ReadUntil([&] { return member.closed(); })) << size;
  }
  const std::string refused = "meshkv_mesh_connections_refused_total{reason=";
  ASSERT_TRUE(WaitFor([&] {
    const std::string m = ScrapeMetrics(n1.metrics_port());
    return SampleOf(m, refused + "\"certificate\"}") == 60 &&
           SampleOf(m, refused + "\"frame_too_large\"}") == 1 &&
           SampleOf(m, refused + "\"node_id_mismatch\"}") == 1;
  })) << ScrapeMetrics(n1.metrics_port());
  const std::string after = ScrapeMetrics(n1.metrics_port());
  std::cout << "/metrics: " << before.size() << " bytes before, " << after.size() << " after\n";
  EXPECT_LE(after.size(), before.size() + 2048);  // counters' digits, not new series
  EXPECT_EQ(Count(after, "\n"), Count(before, "\n"));
  EXPECT_THAT(after, Not(HasSubstr("stranger")));
  EXPECT_THAT(after, Not(HasSubstr("xxxx")));
  ASSERT_TRUE(c2.Set("k2", "v2").ok());
  EXPECT_TRUE(c1.WaitValue("k2", "v2"));
}

// Without TLS anyone is a member under the ID it claims: still, an ID is at
// most 128 printable bytes, and at most 256 peers' series are kept.
TEST_F(MeshTlsProcessTest, WithoutTlsHostileIdsStillCannotGrowMetricsWithoutBound) {
  nodes_.push_back(std::make_unique<ServerProcess>(
      std::vector<std::string>{"--node-id=n5", "--insecure", "--initial-sync-timeout=1s"}));
  ServerProcess& n5 = *nodes_.back();
  ASSERT_OK(n5.Start());
  ASSERT_OK(n5.WaitServing()) << n5.Logs();
  wire::Hello theirs;
  {
    RawPeer probe(TransportFactory::Plain());
    ASSERT_OK(probe.Connect(n5.mesh_addr()));
    ASSERT_TRUE(probe.ReadUntil([&] { return probe.Last(FrameType::kHello, &theirs); }));
  }
  auto join = [&](const std::string& id) {
    RawPeer fake(TransportFactory::Plain());
    EXPECT_OK(fake.Connect(n5.mesh_addr()));
    wire::Hello mine = theirs;
    mine.set_node_id(id);
    mine.set_advertise_addr("127.0.0.1:1");
    fake.Send(FrameType::kHello, mine);
    fake.ReadUntil([&] { return fake.Got(FrameType::kPeerList) || fake.closed(); });
    return fake.Got(FrameType::kPeerList);
  };
  EXPECT_FALSE(join(std::string(60 << 10, 'z')));  // under the frame cap, over the ID's
  constexpr int kFakes = 300;
  int joined = 0;
  for (int i = 0; i < kFakes; ++i) joined += join(absl::StrCat("fake-", i));
  EXPECT_EQ(joined, kFakes);
  const std::string m = ScrapeMetrics(n5.metrics_port());
  std::cout << "/metrics after " << kFakes << " fake peers: " << m.size() << " bytes, "
            << Count(m, "meshkv_mesh_frames_received_total{peer=") << " received-frame series\n";
  EXPECT_THAT(m, Not(HasSubstr("zzzz")));
  // Each fake sent a Hello and got a Hello and a PeerList: one received-frame
  // series per peer counted.
  EXPECT_LE(Count(m, "meshkv_mesh_frames_received_total{peer="), 256);
  EXPECT_GE(Count(m, "meshkv_mesh_frames_received_total{peer="), 100);
}

// --insecure is never silent: Cluster/Status (what `meshkv status` prints)
// says the mesh is unauthenticated for as long as the node runs, and louder,
// in the log too, when the mesh listens beyond loopback. With TLS, nothing.
TEST_F(MeshTlsProcessTest, AnInsecureNodeSaysSoInItsStatusAndLog) {
  auto status = [](const ServerProcess& n) {
    auto stub = v1::Cluster::NewStub(n.Channel());
    grpc::ClientContext ctx;
    v1::StatusResponse resp;
    EXPECT_TRUE(stub->Status(&ctx, v1::StatusRequest(), &resp).ok());
    return resp;
  };
  ServerProcess& tls = StartNode("n1");
  EXPECT_FALSE(status(tls).mesh_insecure());
  EXPECT_THAT(status(tls).warnings(), ::testing::IsEmpty());

  const struct {
    std::string mesh_addr;
    int warnings;
  } cases[] = {{"127.0.0.1:0", 1}, {"0.0.0.0:0", 2}};
  for (const auto& c : cases) {
    ServerProcess n({"--node-id=n5", "--insecure", "--mesh-addr=" + c.mesh_addr});
    ASSERT_OK(n.Start());
    ASSERT_OK(n.WaitServing()) << n.Logs();
    const v1::StatusResponse s = status(n);
    EXPECT_TRUE(s.mesh_insecure());
    ASSERT_EQ(s.warnings_size(), c.warnings) << c.mesh_addr;
    EXPECT_THAT(s.warnings(0), HasSubstr("--insecure: the mesh runs plain TCP"));
    EXPECT_THAT(n.Logs(), HasSubstr("--insecure: the mesh runs plain TCP"));
    if (c.warnings == 2) {
      EXPECT_THAT(s.warnings(1), HasSubstr("the unauthenticated mesh listens on 0.0.0.0:0, which "
                                           "other hosts can reach"));
      EXPECT_THAT(n.Logs(), HasSubstr("which other hosts can reach"));
    } else {
      EXPECT_THAT(n.Logs(), Not(HasSubstr("which other hosts can reach")));
    }
  }
}

// n2 restarted with a new certificate from the same CA rejoins and catches
// up; a peer presenting an expired certificate is refused, and both ends say
// it expired: n1's log (with the expiry time) and its refusal counter, and
// the alert the peer reads.
TEST_F(MeshTlsProcessTest, ARotatedCertificateRejoinsAndAnExpiredOneIsRefused) {
  ServerProcess& n1 = StartNode("n1");
  ServerProcess& n2 = StartNode("n2", {"--join=" + n1.mesh_addr()});
  Client c1(n1);
  ASSERT_TRUE(c1.Set("before", "b").ok());
  ASSERT_TRUE(Client(n2).WaitValue("before", "b"));
  n2.Terminate();
  ASSERT_EQ(n2.Wait(), 0);
  MakeMember("n2", {}, "n2-rotated");
  ServerProcess& rotated = StartNode("n2", {"--join=" + n1.mesh_addr()}, "n2-rotated");
  ASSERT_TRUE(
      WaitFor([&] { return PeersOf(n1) == std::vector<std::string>{"n2"}; }, absl::Seconds(20)))
      << n1.Logs();
  Client c2(rotated);
  EXPECT_TRUE(c2.WaitValue("before", "b"));
  ASSERT_TRUE(c1.Set("after-rotation", "r").ok());
  EXPECT_TRUE(c2.WaitValue("after-rotation", "r"));

  MakeMember("expired", {"--days", "-1"});
  RawPeer old(StrangerTls("expired"));
  (void)old.Connect(n1.mesh_addr());  // TLS 1.3: the client learns on its first read
  old.SendRaw("");
  ASSERT_TRUE(old.ReadUntil([&] { return old.closed(); }));
  EXPECT_THAT(std::string(old.close_status().message()),
              HasSubstr("peer refused our certificate: expired"));
  const std::string expired =
      "meshkv_mesh_connections_refused_total{reason=\"certificate_expired\"}";
  ASSERT_TRUE(WaitFor([&] { return Sample(n1, expired) == 1; })) << Sample(n1, expired);
  EXPECT_THAT(n1.Logs(), ::testing::ContainsRegex("refusing peer.*expired at 20"));
  EXPECT_EQ(Sample(n1, "meshkv_mesh_connections_refused_total{reason=\"certificate\"}"), 0);
  ASSERT_TRUE(c1.Set("after-expired", "e").ok());
  EXPECT_TRUE(c2.WaitValue("after-expired", "e"));
}

}  // namespace
}  // namespace meshkv
