#include "peer/core/handshake.h"

#include "gtest/gtest.h"
#include "peer/core/frame.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;
using Verdict = Handshake::Verdict;

Handshake::Local Local(const std::string& id = "a") {
  Handshake::Local l;
  l.node_id = id;
  l.advertise_addr = id + ":4444";
  l.cluster = "c";
  l.leasing = true;
  l.buckets = 256;
  l.incarnation_ms = 123;
  return l;
}

TEST(HandshakeTest, MakeHelloSaysWhatThisNodeIs) {
  const wire::Hello h = Handshake::MakeHello(Local(), /*synced=*/true);
  EXPECT_EQ(h.protocol_version(), kProtocolVersion);
  EXPECT_EQ(h.cluster(), "c");
  EXPECT_TRUE(h.leasing());
  EXPECT_EQ(h.node_id(), "a");
  EXPECT_EQ(h.advertise_addr(), "a:4444");
  EXPECT_EQ(h.buckets(), 256u);
  EXPECT_EQ(h.incarnation(), 123u);
  EXPECT_TRUE(h.synced());
}

TEST(HandshakeTest, APeerOfTheSameClusterIsAcceptedAndItselfIsSelf) {
  EXPECT_EQ(Handshake::Check(Handshake::MakeHello(Local("b"), false), Local()).verdict,
            Verdict::kAccept);
  const Handshake::Outcome self = Handshake::Check(Handshake::MakeHello(Local(), false), Local());
  EXPECT_EQ(self.verdict, Verdict::kSelf);
  EXPECT_TRUE(self.refusal.empty());
}

TEST(HandshakeTest, AnIncompatibleSelfIsRefusedNotTakenForSelf) {
  // Our own ID in another cluster is a misconfiguration to report, not a
  // loopback to close silently.
  Handshake::Local other = Local();
  other.cluster = "d";
  const Handshake::Outcome o = Handshake::Check(Handshake::MakeHello(other, false), Local());
  EXPECT_EQ(o.verdict, Verdict::kRefuse);
  EXPECT_EQ(o.refusal, "cluster \"d\" is not \"c\"");
}

TEST(HandshakeTest, TheVersionIsCheckedFirst) {
  Handshake::Local other = Local("b");
  other.cluster = "d";
  wire::Hello h = Handshake::MakeHello(other, false);
  h.set_protocol_version(9);
  const Handshake::Outcome o = Handshake::Check(h, Local());
  EXPECT_EQ(o.verdict, Verdict::kRefuse);
  EXPECT_EQ(o.refusal, "protocol version 9 is not 1");
}

TEST(HandshakeTest, ANodeIdTooLongOrWithControlCharactersIsRefused) {
  for (const std::string& id : {std::string(Handshake::kMaxNodeIdBytes + 1, 'x'),
                                std::string("n\n1"), std::string("\x7f")}) {
    const Handshake::Outcome o = Handshake::Check(Handshake::MakeHello(Local(id), false), Local());
    EXPECT_EQ(o.verdict, Verdict::kRefuse) << id;
    EXPECT_EQ(o.refusal, "node ID longer than 128 bytes or with control characters");
  }
  EXPECT_EQ(
      Handshake::Check(Handshake::MakeHello(Local(std::string(128, 'x')), false), Local()).verdict,
      Verdict::kAccept);
}

}  // namespace
}  // namespace meshkv::peer
