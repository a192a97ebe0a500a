// ParseFrameBody: the one place a frame's body is parsed, by its type.
#include "peer/core/frame_body.h"

#include <string>
#include <variant>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "tests/util/status_matchers.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;
using ::meshkv::testing::StatusIs;
using ::testing::StartsWith;

// Every frame type the decoder lets through has its own alternative.
static_assert(std::variant_size_v<FrameBody> == kMaxFrameType,
              "one FrameBody alternative per FrameType");

TEST(FrameBodyTest, EveryTypeParsesIntoItsOwnAlternative) {
  for (uint8_t t = 1; t <= kMaxFrameType; ++t) {
    const FrameType type = static_cast<FrameType>(t);
    // An empty body is every message with its fields unset.
    absl::StatusOr<FrameBody> body = ParseFrameBody(type, "");
    ASSERT_TRUE(body.ok()) << FrameTypeName(type) << ": " << body.status();
    EXPECT_EQ(body->index(), t - 1u) << FrameTypeName(type);
    EXPECT_EQ(TypeOf(*body), type) << FrameTypeName(type);
  }
}

TEST(FrameBodyTest, ABodyKeepsItsFields) {
  wire::Hello hello;
  hello.set_node_id("n1");
  hello.set_advertise_addr("n1:4444");
  hello.set_buckets(256);
  absl::StatusOr<FrameBody> body = ParseFrameBody(FrameType::kHello, hello.SerializeAsString());
  ASSERT_TRUE(body.ok()) << body.status();
  const wire::Hello* parsed = std::get_if<wire::Hello>(&*body);
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(parsed->node_id(), "n1");
  EXPECT_EQ(parsed->advertise_addr(), "n1:4444");
  EXPECT_EQ(parsed->buckets(), 256u);
}

TEST(FrameBodyTest, AMalformedBodyOfEveryTypeIsInvalidArgument) {
  // A truncated varint: no message of any type parses from it.
  for (uint8_t t = 1; t <= kMaxFrameType; ++t) {
    const FrameType type = static_cast<FrameType>(t);
    EXPECT_THAT(ParseFrameBody(type, "\xff\xff\xff"),
                StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("malformed ")))
        << FrameTypeName(type);
  }
}

TEST(FrameBodyTest, AnUnknownTypeIsInvalidArgument) {
  EXPECT_THAT(ParseFrameBody(static_cast<FrameType>(kMaxFrameType + 1), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("unknown frame type")));
  EXPECT_THAT(ParseFrameBody(static_cast<FrameType>(0), ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace meshkv::peer
