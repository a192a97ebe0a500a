#include "peer/core/frame.h"

#include <string>

#include "gtest/gtest.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "tests/util/status_matchers.h"

namespace meshkv::peer {
namespace {

using ::meshkv::testing::StatusIs;

meshkv::mesh::v1::Ping Ping(uint64_t nonce) {
  meshkv::mesh::v1::Ping p;
  p.set_nonce(nonce);
  return p;
}

TEST(FrameTest, FramesRoundTripWhateverTheChunking) {
  std::string stream;
  for (uint64_t i = 1; i <= 3; ++i) AppendFrame(FrameType::kPing, Ping(i), &stream);
  for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    FrameDecoder d(1024);
    uint64_t next = 1;
    for (size_t at = 0; at < stream.size(); at += chunk) {
      d.Feed(absl::string_view(stream).substr(at, chunk));
      FrameType type;
      absl::string_view body;
      while (d.Next(&type, &body)) {
        meshkv::mesh::v1::Ping p;
        ASSERT_EQ(type, FrameType::kPing);
        ASSERT_TRUE(p.ParseFromArray(body.data(), static_cast<int>(body.size())));
        EXPECT_EQ(p.nonce(), next++);
      }
      ASSERT_TRUE(d.status().ok()) << d.status();
    }
    EXPECT_EQ(next, 4u) << "chunk " << chunk;
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(FrameTest, HeaderLayoutIsAsSpecified) {
  std::string f;
  AppendFrame(FrameType::kPing, Ping(7), &f);
  ASSERT_GE(f.size(), kFrameHeaderBytes);
  EXPECT_EQ(static_cast<uint8_t>(f[0]), kProtocolVersion);
  EXPECT_EQ(static_cast<uint8_t>(f[1]), static_cast<uint8_t>(FrameType::kPing));
  EXPECT_EQ(f[2], 0);
  EXPECT_EQ(f[3], 0);
  const uint32_t length =
      (uint8_t(f[4]) << 24) | (uint8_t(f[5]) << 16) | (uint8_t(f[6]) << 8) | uint8_t(f[7]);
  EXPECT_EQ(length, f.size() - kFrameHeaderBytes);
}

// Each corruption must be caught, not parsed.
absl::Status DecodeError(std::string bytes, size_t max = 1024) {
  FrameDecoder d(max);
  d.Feed(bytes);
  FrameType type;
  absl::string_view body;
  while (d.Next(&type, &body)) {
  }
  return d.status();
}

TEST(FrameTest, BadFramesAreRefused) {
  std::string good;
  AppendFrame(FrameType::kPing, Ping(7), &good);

  std::string v = good;
  v[0] = 9;
  EXPECT_THAT(DecodeError(v), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string t = good;
  t[1] = 0x7f;
  EXPECT_THAT(DecodeError(t), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string flags = good;
  flags[3] = 1;
  EXPECT_THAT(DecodeError(flags), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string sum = good;
  sum.back() ^= 1;
  EXPECT_THAT(DecodeError(sum), StatusIs(absl::StatusCode::kDataLoss));
  std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_FALSE(DecodeError(garbage).ok());
}

TEST(FrameTest, OversizedLengthIsRefusedBeforeTheBodyArrives) {
  std::string big;
  AppendFrame(FrameType::kPing, Ping(1), &big);
  big[4] = 0x7f;  // claims ~2 GiB
  FrameDecoder d(1 << 20);
  d.Feed(absl::string_view(big).substr(0, kFrameHeaderBytes));
  FrameType type;
  absl::string_view body;
  EXPECT_FALSE(d.Next(&type, &body));
  EXPECT_THAT(d.status(), StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(FrameTest, TruncatedFrameWaitsForMore) {
  std::string f;
  AppendFrame(FrameType::kPing, Ping(1), &f);
  FrameDecoder d(1024);
  d.Feed(absl::string_view(f).substr(0, f.size() - 1));
  FrameType type;
  absl::string_view body;
  EXPECT_FALSE(d.Next(&type, &body));
  EXPECT_TRUE(d.status().ok());
  d.Feed(absl::string_view(f).substr(f.size() - 1));
  EXPECT_TRUE(d.Next(&type, &body));
}

}  // namespace
}  // namespace meshkv::peer
