// The mesh core's protocol rules, one test per rule, each driving real cores
// against each other (or against a test-played peer) with MeshPair.
#include "peer/core/mesh.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/frame.h"
#include "peer/core/map_replica.h"
#include "peer/core/mesh_pair.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A Hello that node 0 of a default MeshPair accepts, from "raw".
wire::Hello GoodHello(const std::string& id = "raw") {
  wire::Hello h;
  h.set_protocol_version(kProtocolVersion);
  h.set_cluster("pair");
  h.set_leasing(true);
  h.set_node_id(id);
  h.set_advertise_addr(id + ":4444");
  h.set_buckets(16);
  h.set_synced(true);
  return h;
}

std::string FrameOf(FrameType type, const google::protobuf::MessageLite& m) {
  std::string out;
  AppendFrame(type, m, &out);
  return out;
}

template <typename Msg>
Msg BodyOf(const MeshPair::Frame& f) {
  Msg m;
  EXPECT_TRUE(m.ParseFromString(f.body)) << FrameTypeName(f.type);
  return m;
}

std::vector<FrameType> TypesOf(const std::vector<MeshPair::Frame>& frames) {
  std::vector<FrameType> types;
  for (const auto& f : frames) types.push_back(f.type);
  return types;
}

// Node 1 dials node 0 (its seed).
MeshPair::Tweak OneDialsZero(MeshPair::Tweak more = nullptr) {
  return [more](int i, MeshOptions& o) {
    if (i == 1) o.seeds = {MeshPair::AddrOf(0)};
    if (more) more(i, o);
  };
}

// ---------------------------------------------------------------------------
// Handshake: every refusal of Handshake::Check, seen from a raw peer (the
// Goodbye's reason and detail) and counted.

struct Refused {
  wire::Goodbye bye;
  MeshStats stats;
  bool closed = false;  // the node closed the connection
};

// Node 0 receives `hello` from a raw peer and answers.
Refused RefusalOf(const wire::Hello& hello) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  EXPECT_THAT(TypesOf(pair.TakeRawFrames(link)), ElementsAre(FrameType::kHello));
  pair.InjectOn(link, FrameOf(FrameType::kHello, hello));
  Refused r;
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  EXPECT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  if (!frames.empty()) r.bye = BodyOf<wire::Goodbye>(frames[0]);
  r.stats = pair.stats(0);
  r.closed = !pair.links()[link].end[1].open;
  EXPECT_THAT(pair.Established(0), IsEmpty());
  return r;
}

TEST(HandshakeRefusalTest, AcceptsAGoodHello) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello()));
  EXPECT_THAT(TypesOf(pair.TakeRawFrames(link)),
              ElementsAre(FrameType::kHello, FrameType::kPeerList));
  EXPECT_THAT(pair.Established(0), SizeIs(1));
  EXPECT_EQ(pair.stats(0).handshakes_refused, 0u);
}

TEST(HandshakeRefusalTest, RefusesAnotherProtocolVersion) {
  wire::Hello h = GoodHello();
  h.set_protocol_version(kProtocolVersion + 1);
  const Refused r = RefusalOf(h);
  EXPECT_EQ(r.bye.reason(), wire::Goodbye::REFUSED);
  EXPECT_EQ(r.bye.detail(), absl::StrCat("protocol version ", kProtocolVersion + 1, " is not ",
                                         kProtocolVersion));
  EXPECT_EQ(r.stats.handshakes_refused, 1u);
  EXPECT_TRUE(r.closed);
}

TEST(HandshakeRefusalTest, RefusesAnotherCluster) {
  wire::Hello h = GoodHello();
  h.set_cluster("other");
  const Refused r = RefusalOf(h);
  EXPECT_EQ(r.bye.reason(), wire::Goodbye::REFUSED);
  EXPECT_EQ(r.bye.detail(), "cluster \"other\" is not \"pair\"");
  EXPECT_EQ(r.stats.handshakes_refused, 1u);
  EXPECT_TRUE(r.closed);
}

TEST(HandshakeRefusalTest, RefusesAnotherLeasingMode) {
  wire::Hello h = GoodHello();
  h.set_leasing(false);
  const Refused r = RefusalOf(h);
  EXPECT_EQ(r.bye.reason(), wire::Goodbye::REFUSED);
  EXPECT_EQ(r.bye.detail(), "leasing is off there and on here");
  EXPECT_EQ(r.stats.handshakes_refused, 1u);
  EXPECT_TRUE(r.closed);
}

TEST(HandshakeRefusalTest, RefusesAnotherBucketCount) {
  wire::Hello h = GoodHello();
  h.set_buckets(256);
  const Refused r = RefusalOf(h);
  EXPECT_EQ(r.bye.reason(), wire::Goodbye::REFUSED);
  EXPECT_EQ(r.bye.detail(), "256 anti-entropy buckets is not 16");
  EXPECT_EQ(r.stats.handshakes_refused, 1u);
  EXPECT_TRUE(r.closed);
}

TEST(HandshakeRefusalTest, RefusesAHelloWithoutNodeId) {
  wire::Hello h = GoodHello();
  h.clear_node_id();
  const Refused r = RefusalOf(h);
  EXPECT_EQ(r.bye.reason(), wire::Goodbye::REFUSED);
  EXPECT_EQ(r.bye.detail(), "hello without node ID or address");
  EXPECT_EQ(r.stats.handshakes_refused, 1u);
}

TEST(HandshakeRefusalTest, RefusesAHelloWithoutAddress) {
  wire::Hello h = GoodHello();
  h.clear_advertise_addr();
  const Refused r = RefusalOf(h);
  EXPECT_EQ(r.bye.reason(), wire::Goodbye::REFUSED);
  EXPECT_EQ(r.bye.detail(), "hello without node ID or address");
  EXPECT_EQ(r.stats.handshakes_refused, 1u);
}

// Both sides of a real pair refuse, log the reason, and the dialler backs
// off to the maximum instead of dialling straight back.
TEST(HandshakeRefusalTest, BothSidesRefuseLogAndTheDiallerBacksOffToTheMaximum) {
  MeshPair pair(2, OneDialsZero([](int i, MeshOptions& o) {
                  if (i == 1) o.cluster = "elsewhere";
                }));
  pair.StartAll();
  EXPECT_THAT(pair.Established(0), IsEmpty());
  EXPECT_THAT(pair.Established(1), IsEmpty());
  for (int i : {0, 1}) {
    EXPECT_EQ(pair.stats(i).handshakes_refused, 1u) << i;
    std::vector<MeshPair::LogLine> refusals = pair.LogsWith(i, "refusing peer");
    ASSERT_THAT(refusals, SizeIs(1)) << i;
    EXPECT_THAT(refusals[0].field("reason"), HasSubstr("cluster")) << i;
  }
  EXPECT_EQ(pair.stats(1).connections_dialed, 1u);
  // reconnect_max_ms (10 s) times a jitter of at least 0.5.
  pair.AdvanceTime(absl::Milliseconds(4900));
  EXPECT_EQ(pair.stats(1).connections_dialed, 1u);
  pair.AdvanceTime(absl::Seconds(11));
  EXPECT_GE(pair.stats(1).connections_dialed, 2u);
}

// A Hello with our own node ID: we dialled ourselves under another name.
// Closed without a Goodbye or a refusal, and that address is never dialled
// again.
TEST(HandshakeRefusalTest, SelfConnectionIsClosedSilentlyAndNeverRedialled) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.TakeRawFrames(link);
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello(MeshPair::IdOf(0))));
  EXPECT_THAT(pair.TakeRawFrames(link), IsEmpty());
  EXPECT_FALSE(pair.links()[link].end[1].open);
  EXPECT_EQ(pair.stats(0).handshakes_refused, 0u);
  EXPECT_EQ(pair.stats(0).protocol_errors, 0u);
}

TEST(HandshakeRefusalTest, SelfAddressInTheSeedsIsDialledOnce) {
  // n1's seed answers with n1's own node ID: n1 dialled itself under
  // another name.
  MeshPair pair(2, OneDialsZero([](int i, MeshOptions& o) {
                  if (i == 0) o.node_id = MeshPair::IdOf(1);  // n0 is "n1" too
                }));
  pair.StartAll();
  EXPECT_THAT(pair.Established(1), IsEmpty());
  EXPECT_EQ(pair.stats(1).connections_dialed, 1u);
  pair.AdvanceTime(absl::Seconds(30));
  EXPECT_EQ(pair.stats(1).connections_dialed, 1u);  // marked self: never again
  EXPECT_EQ(pair.stats(1).handshakes_refused, 0u);
}

TEST(HandshakeRuleTest, AFrameBeforeTheHandshakeIsAProtocolError) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.TakeRawFrames(link);
  pair.InjectOn(link, FrameOf(FrameType::kPing, wire::Ping()));
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  const auto bye = BodyOf<wire::Goodbye>(frames[0]);
  EXPECT_EQ(bye.reason(), wire::Goodbye::PROTOCOL_ERROR);
  EXPECT_EQ(bye.detail(), "ping before the handshake");
  EXPECT_EQ(pair.stats(0).protocol_errors, 1u);
  EXPECT_FALSE(pair.links()[link].end[1].open);
}

TEST(HandshakeRuleTest, ASecondHelloIsAProtocolError) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello()));
  pair.TakeRawFrames(link);
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello()));
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  EXPECT_EQ(BodyOf<wire::Goodbye>(frames[0]).detail(), "second hello");
  EXPECT_EQ(pair.stats(0).protocol_errors, 1u);
}

TEST(HandshakeRuleTest, AHandshakeNotCompletedInTimeIsClosed) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.TakeRawFrames(link);
  pair.AdvanceTime(absl::Milliseconds(4900));
  EXPECT_TRUE(pair.links()[link].end[1].open);
  pair.AdvanceTime(absl::Milliseconds(300));
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  EXPECT_EQ(BodyOf<wire::Goodbye>(frames[0]).detail(), "handshake timed out");
  EXPECT_FALSE(pair.links()[link].end[1].open);
}

TEST(HandshakeRuleTest, InboundConnectionsBeyondTheCapAreTurnedAway) {
  MeshPair pair(1, [](int, MeshOptions& o) { o.max_inbound = 2; });
  pair.StartAll();
  std::vector<size_t> links;
  for (int i = 0; i < 3; ++i) links.push_back(pair.AcceptRaw(0));
  EXPECT_THAT(TypesOf(pair.TakeRawFrames(links[0])), ElementsAre(FrameType::kHello));
  EXPECT_THAT(TypesOf(pair.TakeRawFrames(links[1])), ElementsAre(FrameType::kHello));
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(links[2]);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  EXPECT_EQ(BodyOf<wire::Goodbye>(frames[0]).reason(), wire::Goodbye::TOO_MANY_PEERS);
  EXPECT_FALSE(pair.links()[links[2]].end[1].open);
}

TEST(HandshakeRuleTest, AConnectionAcceptedWhileStoppingIsToldSoAndNothingIsDialled) {
  MeshPair pair(2, OneDialsZero());
  pair.StartAll();
  ASSERT_THAT(pair.Established(1), SizeIs(1));
  pair.mesh(0).Shutdown(pair.now_us());
  pair.Drive();
  const size_t link = pair.AcceptRaw(0);
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  EXPECT_EQ(BodyOf<wire::Goodbye>(frames[0]).reason(), wire::Goodbye::SHUTDOWN);
  EXPECT_FALSE(pair.links()[link].end[1].open);
  EXPECT_EQ(pair.stats(0).handshakes_refused, 0u);  // a stop, not a refusal
  // A stopping node dials nobody, not even its lost neighbour's address.
  const uint64_t n0_dialled = pair.stats(0).connections_dialed;
  pair.AdvanceTime(absl::Seconds(30));
  EXPECT_EQ(pair.stats(0).connections_dialed, n0_dialled);
  EXPECT_THAT(pair.Established(0), IsEmpty());
}

// ---------------------------------------------------------------------------
// Connections between a pair.

TEST(MeshPairTest, APairConnectsSyncsAndReplicates) {
  MeshPair pair(2, OneDialsZero());
  pair.StartAll();
  ASSERT_THAT(pair.Established(0), SizeIs(1));
  ASSERT_THAT(pair.Established(1), SizeIs(1));
  EXPECT_TRUE(pair.mesh(1).synced());
  pair.Write(0, "k", "v");
  pair.Drive();
  EXPECT_EQ(pair.replica(1).Get("k"), "v");
  pair.Write(1, "j", "w");
  pair.Drive();
  EXPECT_EQ(pair.replica(0).Get("j"), "w");
}

// Two nodes dialling each other at once: of the two connections, both keep
// the one dialled by the smaller node ID, and close the other as DUPLICATE.
TEST(DuplicateConnectionTest, KeepsTheConnectionDialledByTheSmallerNodeId) {
  MeshPair pair(2, [](int i, MeshOptions& o) { o.seeds = {MeshPair::AddrOf(1 - i)}; });
  pair.StartAll();
  EXPECT_EQ(pair.stats(0).connections_dialed, 1u);
  EXPECT_EQ(pair.stats(1).connections_dialed, 1u);
  const std::vector<PeerStatus> at0 = pair.Established(0);
  const std::vector<PeerStatus> at1 = pair.Established(1);
  ASSERT_THAT(at0, SizeIs(1));
  ASSERT_THAT(at1, SizeIs(1));
  EXPECT_TRUE(at0[0].outbound);  // n0 < n1: n0's dial survives
  EXPECT_FALSE(at1[0].outbound);
  // The survivor is one and the same link at both ends.
  int open_links = 0;
  for (const auto& l : pair.links()) open_links += l.end[0].open && l.end[1].open;
  EXPECT_EQ(open_links, 1);
  // The loser stays closed: no redial storm.
  pair.AdvanceTime(absl::Seconds(20));
  EXPECT_THAT(pair.Established(0), SizeIs(1));
  EXPECT_THAT(pair.Established(1), SizeIs(1));
}

TEST(DuplicateConnectionTest, KeepsOtherIsTheSameDecisionOnBothSides) {
  const Handshake::Side out1{true, 1}, in2{false, 2}, out3{true, 3}, in4{false, 4};
  // "a" < "b": the connection "a" dialled wins, whichever came first.
  EXPECT_TRUE(Handshake::KeepsOther("a", "b", out3, in2));   // at a: a's dial kept
  EXPECT_FALSE(Handshake::KeepsOther("a", "b", in2, out3));  // at a: b's dial loses
  EXPECT_TRUE(Handshake::KeepsOther("b", "a", in4, out1));   // at b: a's dial (inbound) kept
  EXPECT_FALSE(Handshake::KeepsOther("b", "a", out1, in4));  // at b: its own dial loses
  // Both dialled by the same side: the older.
  EXPECT_TRUE(Handshake::KeepsOther("a", "b", out1, out3));
  EXPECT_FALSE(Handshake::KeepsOther("a", "b", out3, out1));
}

// ---------------------------------------------------------------------------
// Hostile input.

// A raw peer through the handshake: its link index.
size_t EstablishRaw(MeshPair& pair, const std::string& id) {
  const size_t link = pair.AcceptRaw(0);
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello(id)));
  pair.TakeRawFrames(link);
  return link;
}

TEST(ProtocolErrorTest, AMalformedBodyClosesOnlyThatConnection) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t bad = EstablishRaw(pair, "bad");
  const size_t good = EstablishRaw(pair, "good");
  std::string frame;
  AppendRawFrame(static_cast<uint8_t>(FrameType::kWriteBatch), "\xff\xff\xff", &frame);
  pair.InjectOn(bad, frame);
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(bad);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  const auto bye = BodyOf<wire::Goodbye>(frames[0]);
  EXPECT_EQ(bye.reason(), wire::Goodbye::PROTOCOL_ERROR);
  EXPECT_THAT(bye.detail(), HasSubstr("malformed"));
  EXPECT_EQ(pair.stats(0).protocol_errors, 1u);
  EXPECT_FALSE(pair.links()[bad].end[1].open);
  // The other connection goes on: it still gets writes.
  EXPECT_TRUE(pair.links()[good].end[1].open);
  pair.Write(0, "k", "v");
  EXPECT_THAT(TypesOf(pair.TakeRawFrames(good)), ElementsAre(FrameType::kWriteBatch));
}

TEST(ProtocolErrorTest, ABadChecksumClosesTheConnection) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = EstablishRaw(pair, "raw");
  std::string frame = FrameOf(FrameType::kPing, wire::Ping());
  frame[8] ^= 1;
  pair.InjectOn(link, frame);
  EXPECT_EQ(pair.stats(0).protocol_errors, 1u);
  EXPECT_FALSE(pair.links()[link].end[1].open);
}

// A member forges a write in node 0's own name (a seq node 0 never used):
// refused before the replica and the sequence tracker, counted, logged once;
// node 0's real next write still goes out and its echo is a mere duplicate.
TEST(ProtocolErrorTest, AWriteForgedInThisNodesNameIsRefusedItsOwnEchoIsNot) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = EstablishRaw(pair, "raw");
  pair.Write(0, "k", "v");
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kWriteBatch));
  const wire::Write sent = BodyOf<wire::WriteBatch>(frames[0]).writes(0);
  // Forgeries: the next seq (not used yet) for another value, and our ID on
  // the version of a write relayed as another origin's.
  wire::WriteBatch forged;
  wire::Write* next = forged.add_writes();
  next->set_origin(MeshPair::IdOf(0));
  next->set_origin_seq(sent.origin_seq() + 1);
  *next->mutable_record() = MapReplica::MakeRecord("k", "forged", 99, MeshPair::IdOf(0));
  wire::Write* relayed = forged.add_writes();
  relayed->set_origin("raw");
  relayed->set_origin_seq(1);
  *relayed->mutable_record() = MapReplica::MakeRecord("j", "forged", 99, MeshPair::IdOf(0));
  pair.InjectOn(link, FrameOf(FrameType::kWriteBatch, forged));
  EXPECT_EQ(pair.stats(0).own_origin_refused, 2u);
  EXPECT_EQ(pair.replica(0).Get("k"), "v");
  EXPECT_EQ(pair.replica(0).Get("j"), std::nullopt);
  std::vector<MeshPair::LogLine> warned =
      pair.LogsWith(0, "refused forged writes claiming the origin of this node");
  ASSERT_THAT(warned, SizeIs(1));  // one line for the burst
  EXPECT_EQ(warned[0].field("refused_since_last_log"), "1");
  EXPECT_TRUE(pair.links()[link].end[1].open);  // a member: not cut off for it
  // The forged seq did not mark our next write as seen: it still goes out.
  pair.Write(0, "k2", "v2");
  frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kWriteBatch));
  EXPECT_EQ(BodyOf<wire::WriteBatch>(frames[0]).writes(0).origin_seq(), sent.origin_seq() + 1);
  // Our own write coming back around a cycle is a duplicate that prunes the
  // link, not a forgery.
  wire::WriteBatch echo;
  *echo.add_writes() = sent;
  pair.InjectOn(link, FrameOf(FrameType::kWriteBatch, echo));
  EXPECT_EQ(pair.stats(0).own_origin_refused, 2u);
  EXPECT_EQ(pair.stats(0).duplicates_dropped, 1u);
  EXPECT_THAT(TypesOf(pair.TakeRawFrames(link)), ElementsAre(FrameType::kPrune));
}

// ---------------------------------------------------------------------------
// Before the handshake (issue 10): what a stranger can make a node hold, and
// the identity an authenticating transport proves.

uint64_t RefusedFor(const MeshStats& s, Refusal r) { return s.refused[static_cast<size_t>(r)]; }

// A frame header announcing `length` bytes of `type`, with no body.
std::string HeaderOnly(FrameType type, uint32_t length) {
  std::string h(kFrameHeaderBytes, '\0');
  h[0] = static_cast<char>(kProtocolVersion);
  h[1] = static_cast<char>(type);
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>(length >> (24 - 8 * i));
  return h;
}

TEST(PreHandshakeRuleTest, AFrameOverTheHandshakeLimitClosesOnItsHeader) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.TakeRawFrames(link);
  // 64 KiB + 1 announced: refused on the 12 header bytes, no body sent.
  pair.InjectOn(link, HeaderOnly(FrameType::kHello, (64 << 10) + 1));
  EXPECT_FALSE(pair.links()[link].end[1].open);
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kFrameTooLarge), 1u);
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  EXPECT_THAT(BodyOf<wire::Goodbye>(frames[0]).detail(), HasSubstr("exceeds the maximum of 65536"));
}

TEST(PreHandshakeRuleTest, AHelloJustUnderTheLimitIsRead) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.TakeRawFrames(link);
  wire::Hello hello = GoodHello();
  hello.set_advertise_addr(std::string(60 << 10, 'a'));  // a long address, still in bounds
  pair.InjectOn(link, FrameOf(FrameType::kHello, hello));
  EXPECT_TRUE(pair.links()[link].end[1].open);
  EXPECT_THAT(pair.Established(0), SizeIs(1));
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kFrameTooLarge), 0u);
}

TEST(PreHandshakeRuleTest, AMemberMaySendFramesUpToTheFullLimit) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = EstablishRaw(pair, "raw");
  wire::WriteBatch batch;
  wire::Write* w = batch.add_writes();
  w->set_origin("raw");
  w->set_origin_seq(1);
  *w->mutable_record() = MapReplica::MakeRecord("big", std::string(1 << 20, 'v'), 5, "raw");
  pair.InjectOn(link, FrameOf(FrameType::kWriteBatch, batch));
  EXPECT_TRUE(pair.links()[link].end[1].open);
  EXPECT_EQ(pair.stats(0).writes_applied, 1u);
  EXPECT_EQ(pair.stats(0).protocol_errors, 0u);
}

TEST(PreHandshakeRuleTest, PendingHandshakesOverTheCapAreClosedAtOnce) {
  MeshPair pair(1, [](int, MeshOptions& o) { o.max_pending_handshakes = 2; });
  pair.StartAll();
  const size_t a = pair.AcceptRaw(0), b = pair.AcceptRaw(0), c = pair.AcceptRaw(0);
  EXPECT_TRUE(pair.links()[a].end[1].open);
  EXPECT_TRUE(pair.links()[b].end[1].open);
  EXPECT_FALSE(pair.links()[c].end[1].open);
  EXPECT_THAT(pair.TakeRawFrames(c), IsEmpty());  // not even a Hello: closed at once
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kTooManyPending), 1u);
  // Once one completes its handshake, there is room again.
  pair.InjectOn(a, FrameOf(FrameType::kHello, GoodHello("a")));
  EXPECT_THAT(pair.Established(0), SizeIs(1));
  const size_t d = pair.AcceptRaw(0);
  EXPECT_TRUE(pair.links()[d].end[1].open);
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kTooManyPending), 1u);
}

TEST(PreHandshakeRuleTest, OneSourceMayHoldOnlyItsShareOfPendingHandshakes) {
  MeshPair pair(1, [](int, MeshOptions& o) { o.max_pending_handshakes_per_host = 2; });
  pair.StartAll();
  // Two addresses of one IPv6 /64 are one source: the third is refused.
  const size_t a = pair.AcceptRaw(0, "[2001:db8:0:1::a]");
  const size_t b = pair.AcceptRaw(0, "[2001:db8:0:1::b]");
  const size_t c = pair.AcceptRaw(0, "[2001:db8:0:1::c]");
  EXPECT_TRUE(pair.links()[a].end[1].open);
  EXPECT_TRUE(pair.links()[b].end[1].open);
  EXPECT_FALSE(pair.links()[c].end[1].open);
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kTooManyPending), 1u);
  // Another /64 and another IPv4 address still get in.
  EXPECT_TRUE(pair.links()[pair.AcceptRaw(0, "[2001:db8:0:2::a]")].end[1].open);
  EXPECT_TRUE(pair.links()[pair.AcceptRaw(0, "10.0.0.1")].end[1].open);
  EXPECT_TRUE(pair.links()[pair.AcceptRaw(0, "10.0.0.2")].end[1].open);
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kTooManyPending), 1u);
}

// With an authenticating transport the core says nothing until Secured(),
// then takes only the node ID the certificate proves.
MeshPair::Tweak Authenticated() {
  return [](int, MeshOptions& o) { o.authenticated = true; };
}

TEST(AuthenticatedHandshakeTest, NothingIsSentBeforeTheTransportIsSecured) {
  MeshPair pair(1, Authenticated());
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  EXPECT_THAT(pair.TakeRawFrames(link), IsEmpty());
  EXPECT_EQ(pair.Snapshot(0).peers.at(0).state, "securing");
  pair.mesh(0).Secured(pair.links()[link].end[1].conn, "raw", pair.now_us());
  pair.Pump();
  EXPECT_THAT(TypesOf(pair.TakeRawFrames(link)), ElementsAre(FrameType::kHello));
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello("raw")));
  ASSERT_THAT(pair.Established(0), SizeIs(1));
  EXPECT_EQ(pair.Established(0)[0].node_id, "raw");
}

TEST(AuthenticatedHandshakeTest, AHelloClaimingAnotherIdThanTheCertificateIsRefused) {
  MeshPair pair(1, Authenticated());
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.mesh(0).Secured(pair.links()[link].end[1].conn, "n2", pair.now_us());
  pair.Pump();
  pair.TakeRawFrames(link);
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello("n1")));
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  const auto bye = BodyOf<wire::Goodbye>(frames[0]);
  EXPECT_EQ(bye.reason(), wire::Goodbye::REFUSED);
  EXPECT_EQ(bye.detail(), "peer claims node ID \"n1\" but its certificate names \"n2\"");
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kNodeIdMismatch), 1u);
  EXPECT_EQ(pair.stats(0).handshakes_refused, 1u);
  EXPECT_THAT(pair.LogsWith(0, "refusing peer"), SizeIs(1));
  EXPECT_FALSE(pair.links()[link].end[1].open);
}

TEST(AuthenticatedHandshakeTest, AClaimIsEscapedAndCutBeforeItIsEchoed) {
  MeshPair pair(1, Authenticated());
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.mesh(0).Secured(pair.links()[link].end[1].conn, "n2", pair.now_us());
  pair.Pump();
  pair.TakeRawFrames(link);
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello(std::string(10000, '\n'))));
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(link);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kGoodbye));
  const std::string detail = BodyOf<wire::Goodbye>(frames[0]).detail();
  EXPECT_LT(detail.size(), 400u);
  EXPECT_EQ(detail.find('\n'), std::string::npos);
}

TEST(AuthenticatedHandshakeTest, ATransportRefusalIsCountedAndForgotten) {
  MeshPair pair(1, Authenticated());
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.mesh(0).TransportRefused(pair.links()[link].end[1].conn, "unknown CA", pair.now_us());
  pair.Pump();
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kCertificate), 1u);
  EXPECT_THAT(pair.Snapshot(0).peers, IsEmpty());
  EXPECT_THAT(pair.LogsWith(0, "refusing peer"), SizeIs(1));
}

TEST(AuthenticatedHandshakeTest, AnExpiredCertificateIsCountedAsSuch) {
  MeshPair pair(1, Authenticated());
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.mesh(0).TransportRefused(pair.links()[link].end[1].conn, "certificate has expired",
                                pair.now_us(), Refusal::kCertificateExpired);
  pair.Pump();
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kCertificateExpired), 1u);
  EXPECT_EQ(RefusedFor(pair.stats(0), Refusal::kCertificate), 0u);
  EXPECT_THAT(pair.Snapshot(0).peers, IsEmpty());
}

// A dial whose TLS handshake the transport refused is not retried at once:
// the dialler backs off to the maximum, as after a refused Hello.
TEST(AuthenticatedHandshakeTest, ADialRefusedByTheTransportBacksOffToTheMaximum) {
  MeshPair pair(2, [](int i, MeshOptions& o) {
    o.authenticated = true;
    if (i == 1) o.seeds = {MeshPair::AddrOf(0)};
  });
  pair.StartAll();
  ASSERT_EQ(pair.stats(1).connections_dialed, 1u);
  ASSERT_THAT(pair.links(), SizeIs(1));
  pair.mesh(1).TransportRefused(pair.links()[0].end[0].conn, "unknown CA", pair.now_us());
  pair.Pump();
  EXPECT_EQ(RefusedFor(pair.stats(1), Refusal::kCertificate), 1u);
  // reconnect_max_ms (10 s) times a jitter of at least 0.5.
  pair.AdvanceTime(absl::Milliseconds(4900));
  EXPECT_EQ(pair.stats(1).connections_dialed, 1u);
  pair.AdvanceTime(absl::Seconds(11));
  EXPECT_GE(pair.stats(1).connections_dialed, 2u);
}

TEST(AuthenticatedHandshakeTest, AnUnsecuredConnectionTimesOutLikeAHandshake) {
  MeshPair pair(1, Authenticated());
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.AdvanceTime(absl::Milliseconds(5200));
  EXPECT_FALSE(pair.links()[link].end[1].open);
  EXPECT_THAT(pair.TakeRawFrames(link), IsEmpty());  // no Goodbye over an unsecured link
}

// ---------------------------------------------------------------------------
// Dissemination: prune and graft.

// A triangle: n1 dials n0, n2 dials n0 and n1.
MeshPair Triangle() {
  return MeshPair(3, [](int i, MeshOptions& o) {
    if (i == 1) o.seeds = {MeshPair::AddrOf(0)};
    if (i == 2) o.seeds = {MeshPair::AddrOf(0), MeshPair::AddrOf(1)};
  });
}

uint64_t Total(MeshPair& pair, uint64_t MeshStats::*counter) {
  uint64_t n = 0;
  for (int i = 0; i < pair.size(); ++i) n += pair.stats(i).*counter;
  return n;
}

TEST(DisseminationRuleTest, ADuplicatePrunesItsLinkUntilEachWriteArrivesOnce) {
  MeshPair pair = Triangle();
  pair.StartAll();
  pair.AdvanceTime(absl::Seconds(1));  // the peer lists fill every slot
  for (int i = 0; i < 3; ++i) ASSERT_THAT(pair.Established(i), SizeIs(2)) << i;
  pair.Write(0, "a", "1");
  pair.Drive();
  const uint64_t dups = Total(pair, &MeshStats::duplicates_dropped);
  EXPECT_GE(dups, 1u);
  EXPECT_GE(Total(pair, &MeshStats::prunes_sent), 1u);
  // The tree of origin n0 has formed: later writes come once to each node.
  for (int k = 0; k < 10; ++k) pair.Write(0, absl::StrCat("b", k), "2");
  pair.Drive();
  EXPECT_EQ(Total(pair, &MeshStats::duplicates_dropped), dups);
  for (int i : {1, 2}) EXPECT_EQ(pair.replica(i).size(), 11u) << i;
}

TEST(DisseminationRuleTest, LosingTheTreeParentGraftsThePrunedLink) {
  MeshPair pair = Triangle();
  pair.StartAll();
  pair.AdvanceTime(absl::Seconds(1));
  pair.Write(0, "a", "1");
  pair.Drive();
  // One of n1, n2 got n0's write over both of its links and pruned one (the
  // one it came over second). Break the other, its tree parent for n0: it
  // must graft the pruned link, or n0's writes would no longer reach it.
  const uint64_t prunes1 = pair.stats(1).prunes_sent, prunes2 = pair.stats(2).prunes_sent;
  ASSERT_EQ(prunes1 + prunes2, 1u);
  const int pruner = prunes1 == 1 ? 1 : 2;
  std::optional<size_t> pruned, parent;
  for (size_t l = 0; l < pair.links().size(); ++l) {
    const auto& link = pair.links()[l];
    for (int k = 0; k < 2; ++k) {
      if (link.end[k].node != pruner || !link.end[k].open) continue;
      (link.delivered[k][static_cast<int>(FrameType::kPrune)] > 0 ? pruned : parent) = l;
    }
  }
  ASSERT_TRUE(pruned.has_value());
  ASSERT_TRUE(parent.has_value());
  const auto& p = pair.links()[*parent];
  pair.SetReachable(p.end[0].node, p.end[1].node, false);  // no redial meanwhile
  const uint64_t grafts = pair.stats(pruner).grafts_sent;
  const int pruned_end = pair.links()[*pruned].end[0].node == pruner ? 0 : 1;
  const uint64_t graft_frames = pair.links()[*pruned].delivered[pruned_end][static_cast<int>(FrameType::kGraft)];
  pair.Break(*parent);
  pair.Drive();
  EXPECT_EQ(pair.stats(pruner).grafts_sent, grafts + 1);
  EXPECT_EQ(pair.links()[*pruned].delivered[pruned_end][static_cast<int>(FrameType::kGraft)],
            graft_frames + 1);
  pair.Write(0, "c", "3");
  pair.Drive();
  EXPECT_EQ(pair.replica(pruner).Get("c"), "3");
}

// A raw peer grafts node 0 for a range of its writes.
struct GraftCase {
  std::vector<MeshPair::Frame> answer;
  MeshStats stats;
};
GraftCase GraftAfter(size_t cached, int written, int after_index, int upto_index) {
  MeshPair pair(1, [cached](int, MeshOptions& o) { o.recent_writes = cached; });
  pair.StartAll();
  const size_t link = EstablishRaw(pair, "raw");
  std::vector<uint64_t> seqs;
  for (int k = 0; k < written; ++k) {
    pair.Write(0, absl::StrCat("k", k), "v");
    for (const auto& f : pair.TakeRawFrames(link)) {
      if (f.type != FrameType::kWriteBatch) continue;
      const auto batch = BodyOf<wire::WriteBatch>(f);
      for (const auto& w : batch.writes()) seqs.push_back(w.origin_seq());
    }
  }
  EXPECT_THAT(seqs, SizeIs(written));
  if (static_cast<int>(seqs.size()) != written) return {};
  wire::Graft graft;
  graft.set_origin(MeshPair::IdOf(0));
  graft.set_after(seqs[after_index]);
  graft.set_upto(seqs[upto_index]);
  pair.InjectOn(link, FrameOf(FrameType::kGraft, graft));
  return {pair.TakeRawFrames(link), pair.stats(0)};
}

TEST(DisseminationRuleTest, AGraftIsAnsweredFromTheRecentWriteCache) {
  const GraftCase g = GraftAfter(/*cached=*/100, /*written=*/5, /*after=*/1, /*upto=*/4);
  ASSERT_THAT(TypesOf(g.answer), ElementsAre(FrameType::kWriteBatch));
  EXPECT_EQ(BodyOf<wire::WriteBatch>(g.answer[0]).writes_size(), 3);
  EXPECT_EQ(g.stats.writes_resent, 3u);
}

TEST(DisseminationRuleTest, AGraftReachingPastTheCacheStartsASyncSession) {
  // Only the last 2 of 5 writes are cached; the graft asks from the 2nd.
  const GraftCase g = GraftAfter(/*cached=*/2, /*written=*/5, /*after=*/0, /*upto=*/4);
  ASSERT_THAT(TypesOf(g.answer), ElementsAre(FrameType::kWriteBatch, FrameType::kDigestOffer));
  EXPECT_EQ(BodyOf<wire::WriteBatch>(g.answer[0]).writes_size(), 2);  // what it still has
  EXPECT_EQ(g.stats.writes_resent, 2u);
}

// ---------------------------------------------------------------------------
// Membership through peer lists.

TEST(PeerListTest, ListedNodesBecomeDialTargetsButNeverThisNode) {
  MeshPair pair(3);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  pair.InjectOn(link, FrameOf(FrameType::kHello, GoodHello("raw")));
  pair.TakeRawFrames(link);
  wire::PeerList list;
  for (int i : {0, 2}) {
    auto* p = list.add_peers();
    p->set_node_id(MeshPair::IdOf(i));
    p->set_addr(MeshPair::AddrOf(i));
  }
  pair.InjectOn(link, FrameOf(FrameType::kPeerList, list));
  pair.AdvanceTime(absl::Seconds(1));
  // n2 became a neighbour; n0 did not dial itself.
  const std::vector<PeerStatus> peers = pair.Established(0);
  std::vector<std::string> ids;
  for (const auto& p : peers) ids.push_back(p.node_id);
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre("raw", MeshPair::IdOf(2)));
  EXPECT_EQ(pair.stats(0).connections_dialed, 1u);
  EXPECT_EQ(pair.Snapshot(0).peers_known, 2);  // raw's address is unknown: raw, n2
}

TEST(PeerListTest, APeerListIsBoundedAndNotPassedOn) {
  MeshPair pair(1, [](int, MeshOptions& o) { o.max_outbound = 0; });
  pair.StartAll();
  const size_t link = EstablishRaw(pair, "raw");
  for (int round = 0; round < 10; ++round) {
    wire::PeerList list;
    for (int i = 0; i < 3 * Membership::kMaxPeerListEntries; ++i) {
      auto* p = list.add_peers();
      p->set_node_id(absl::StrCat("x", round, "-", i));
      p->set_addr(absl::StrCat("x", round, "-", i, ":4444"));
    }
    pair.InjectOn(link, FrameOf(FrameType::kPeerList, list));
    // A list's first entries count; many lists fill the bound, no more.
    if (round == 0) {
      EXPECT_EQ(pair.Snapshot(0).peers_known, Membership::kMaxPeerListEntries + 1);
    }
  }
  EXPECT_LE(pair.Snapshot(0).peers_known, static_cast<int>(Membership::kMaxDialTargets));
  // A newcomer's list holds what this node reached itself: it, and raw.
  const size_t other = pair.AcceptRaw(0);
  pair.InjectOn(other, FrameOf(FrameType::kHello, GoodHello("other")));
  std::vector<MeshPair::Frame> frames = pair.TakeRawFrames(other);
  ASSERT_THAT(TypesOf(frames), ElementsAre(FrameType::kHello, FrameType::kPeerList));
  const auto sent = BodyOf<wire::PeerList>(frames[1]);
  ASSERT_EQ(sent.peers_size(), 2);
  EXPECT_EQ(sent.peers(0).node_id(), MeshPair::IdOf(0));
  EXPECT_EQ(sent.peers(1).node_id(), "raw");
}

// ---------------------------------------------------------------------------
// Repair of lost writes.

// n1 dials n0; n0's next write to n1 is lost on the wire.
void LoseAWrite(MeshPair& pair) {
  pair.StartAll();
  EXPECT_THAT(pair.Established(1), SizeIs(1));
  pair.Write(0, "k", "v");
  // Link 0 was dialled by n1: n0 is its end 1.
  EXPECT_EQ(pair.PeekNext(0, 1)->type, FrameType::kWriteBatch);
  pair.DropNext(0, 1);
  pair.Drive();
  EXPECT_EQ(pair.replica(1).Get("k"), std::nullopt);
}

TEST(RepairTest, ANeighbourAheadTwiceInARowIsGraftedAndResendsFromItsCache) {
  MeshPair pair(2, OneDialsZero());
  LoseAWrite(pair);
  pair.AdvanceTime(absl::Milliseconds(1100));  // one heartbeat: a suspicion
  EXPECT_EQ(pair.replica(1).Get("k"), std::nullopt);
  pair.AdvanceTime(absl::Milliseconds(1000));  // still ahead: graft
  EXPECT_EQ(pair.replica(1).Get("k"), "v");
  EXPECT_EQ(pair.stats(1).grafts_sent, 1u);
  EXPECT_EQ(pair.stats(0).writes_resent, 1u);
  EXPECT_EQ(pair.stats(1).sync_keys_repaired, 0u);  // not by anti-entropy
}

TEST(RepairTest, AntiEntropyRepairsWhatNoGraftAsksFor) {
  // Heartbeats too rare to graft: the periodic sync session repairs it.
  MeshPair pair(2, OneDialsZero([](int, MeshOptions& o) {
                  o.heartbeat_ms = 60000;
                  o.failure_timeout_ms = 120000;
                }));
  LoseAWrite(pair);
  const uint64_t rounds = pair.stats(1).sync_rounds_completed;
  pair.AdvanceTime(absl::Milliseconds(5200));
  EXPECT_EQ(pair.replica(1).Get("k"), "v");
  EXPECT_EQ(pair.stats(1).sync_keys_repaired + pair.stats(0).sync_keys_repaired, 1u);
  EXPECT_GT(pair.stats(0).sync_rounds_completed + pair.stats(1).sync_rounds_completed, rounds);
}

TEST(ConnectionRuleTest, ASilentPeerIsDeclaredDeadAfterTheFailureTimeout) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = EstablishRaw(pair, "raw");
  pair.AdvanceTime(absl::Milliseconds(4900));
  EXPECT_TRUE(pair.links()[link].end[1].open);
  pair.AdvanceTime(absl::Milliseconds(300));
  EXPECT_FALSE(pair.links()[link].end[1].open);
  EXPECT_EQ(pair.stats(0).peers_timed_out, 1u);
}

TEST(ConnectionRuleTest, ShutdownSendsQueuedWritesThenGoodbyeAndThePeerBacksOff) {
  MeshPair pair(2, OneDialsZero());
  pair.StartAll();
  // The write and the shutdown in one go, before anything is delivered.
  const wire::Record r = pair.replica(0).Put("k", "v", 1, MeshPair::IdOf(0));
  pair.mesh(0).Broadcast({r}, pair.now_us());
  pair.mesh(0).Shutdown(pair.now_us());
  pair.Drive();
  EXPECT_EQ(pair.replica(1).Get("k"), "v");  // the write went before the goodbye
  EXPECT_THAT(pair.Established(0), IsEmpty());
  EXPECT_THAT(pair.Established(1), IsEmpty());
  std::vector<MeshPair::LogLine> byes = pair.LogsWith(1, "peer said goodbye");
  ASSERT_THAT(byes, SizeIs(1));
  EXPECT_EQ(byes[0].field("reason"), "SHUTDOWN");
}

// ---------------------------------------------------------------------------
// Heartbeats: each Pong's round trip is counted in the peer's histogram
// buckets (meshkv_peer_round_trip_time_seconds), as well as smoothed.

TEST(HeartbeatTest, EachRoundTripIsCountedInItsBucket) {
  MeshPair pair(1);
  pair.StartAll();
  const size_t link = pair.AcceptRaw(0);
  const wire::Hello hello = GoodHello();
  pair.InjectOn(link, FrameOf(FrameType::kHello, hello));
  pair.TakeRawFrames(link);
  pair.AdvanceTime(absl::Milliseconds(1500));  // a heartbeat is due every second
  std::optional<wire::Ping> ping;
  for (const MeshPair::Frame& f : pair.TakeRawFrames(link)) {
    if (f.type == FrameType::kPing) ping = BodyOf<wire::Ping>(f);
  }
  ASSERT_TRUE(ping.has_value());
  pair.AdvanceTime(absl::Milliseconds(300));
  wire::Pong pong;
  pong.set_sent_us(ping->sent_us());
  pair.InjectOn(link, FrameOf(FrameType::kPong, pong));
  const MeshSnapshot s = pair.Snapshot(0);
  const PeerCounters* c = nullptr;
  for (const auto& [peer, counters] : s.counters) {
    if (peer == hello.node_id()) c = &counters;
  }
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->rtt_samples, 1u);
  // The Ping left at its sent_us, up to a second before the first
  // AdvanceTime ended; the Pong arrived now.
  const double rtt = static_cast<double>(pair.now_us() - ping->sent_us()) / 1e6;
  ASSERT_GE(rtt, 0.3);
  ASSERT_LE(rtt, 1.3);
  EXPECT_DOUBLE_EQ(c->rtt_seconds_sum, rtt);
  // Bucket i holds samples above 0.1 ms * 2^(i-1) up to 0.1 ms * 2^i.
  size_t want = 0;
  while (kRttFirstBucketSeconds * static_cast<double>(1 << want) < rtt) ++want;
  for (size_t i = 0; i < kRttBuckets; ++i) EXPECT_EQ(c->rtt_buckets[i], i == want ? 1u : 0u) << i;
  // A Pong that claims a future send time is no sample.
  pong.set_sent_us(pair.now_us() + 1'000'000);
  pair.InjectOn(link, FrameOf(FrameType::kPong, pong));
  for (const auto& [peer, counters] : pair.Snapshot(0).counters) {
    if (peer == hello.node_id()) {
      EXPECT_EQ(counters.rtt_samples, 1u);
    }
  }
}

}  // namespace
}  // namespace meshkv::peer
