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

}  // namespace
}  // namespace meshkv
