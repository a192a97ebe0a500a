#include "common/host_port.h"

#include "gtest/gtest.h"

namespace meshkv {
namespace {

TEST(SplitHostPortTest, SplitsHostAndPort) {
  auto hp = SplitHostPort("10.0.0.1:4444");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "10.0.0.1");
  EXPECT_EQ(hp->second, 4444);
}

TEST(SplitHostPortTest, EmptyHostMeansEveryInterface) {
  auto hp = SplitHostPort(":0");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "");
  EXPECT_EQ(hp->second, 0);
}

TEST(SplitHostPortTest, UnbracketsIpv6) {
  auto hp = SplitHostPort("[::1]:50051");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "::1");
  EXPECT_EQ(hp->second, 50051);
}

TEST(SplitHostPortTest, RefusesWhatIsNotHostPort) {
  for (const char* bad : {"", "host", "host:", "host:x", "host:-1", "host:65536", "host:1x"}) {
    EXPECT_EQ(SplitHostPort(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(AddressBlockOfTest, Ipv4IsItselfAndIpv6IsItsSlash64) {
  EXPECT_EQ(AddressBlockOf("10.1.2.3:4444"), "10.1.2.3");
  EXPECT_EQ(AddressBlockOf("10.1.2.3"), "10.1.2.3");
  EXPECT_NE(AddressBlockOf("10.1.2.3:1"), AddressBlockOf("10.1.2.4:1"));
  // One /64, however the addresses are spelled: one block.
  EXPECT_EQ(AddressBlockOf("[2001:db8:0:1::1]:4444"), "2001:db8:0:1::/64");
  EXPECT_EQ(AddressBlockOf("[2001:db8:0:1:ffff:1:2:3]:9"), "2001:db8:0:1::/64");
  EXPECT_EQ(AddressBlockOf("2001:0db8:0000:0001::7"), "2001:db8:0:1::/64");
  EXPECT_NE(AddressBlockOf("[2001:db8:0:1::1]:1"), AddressBlockOf("[2001:db8:0:2::1]:1"));
  // An IPv4 client on a dual-stack socket is still its IPv4 address.
  EXPECT_EQ(AddressBlockOf("[::ffff:10.1.2.3]:4444"), "10.1.2.3");
  EXPECT_EQ(AddressBlockOf("not-an-ip:4444"), "not-an-ip");
}

}  // namespace
}  // namespace meshkv
