#include "peer/core/frame_body.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace meshkv::peer {
namespace {

namespace wire = ::meshkv::mesh::v1;

// Parses `body` as the alternative at `index` of FrameBody.
template <size_t index>
absl::StatusOr<FrameBody> ParseAs(absl::string_view body, const char* name) {
  FrameBody out(std::in_place_index<index>);
  if (!std::get<index>(out).ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("malformed ", name));
  }
  return out;
}

}  // namespace

absl::StatusOr<FrameBody> ParseFrameBody(FrameType type, absl::string_view body) {
  switch (type) {
    case FrameType::kHello:
      return ParseAs<0>(body, "hello");
    case FrameType::kGoodbye:
      return ParseAs<1>(body, "goodbye");
    case FrameType::kPeerList:
      return ParseAs<2>(body, "peer list");
    case FrameType::kPing:
      return ParseAs<3>(body, "ping");
    case FrameType::kPong:
      return ParseAs<4>(body, "pong");
    case FrameType::kWriteBatch:
      return ParseAs<5>(body, "write batch");
    case FrameType::kDigestOffer:
      return ParseAs<6>(body, "digest offer");
    case FrameType::kBucketKeys:
      return ParseAs<7>(body, "bucket keys");
    case FrameType::kRecordChunk:
      return ParseAs<8>(body, "record chunk");
    case FrameType::kPull:
      return ParseAs<9>(body, "pull");
    case FrameType::kSyncEnd:
      return ParseAs<10>(body, "sync end");
    case FrameType::kPrune:
      return ParseAs<11>(body, "prune");
    case FrameType::kGraft:
      return ParseAs<12>(body, "graft");
    case FrameType::kAck:
      return ParseAs<13>(body, "ack");
  }
  // FrameDecoder returns only known types.
  return absl::InvalidArgumentError(absl::StrCat("unknown frame type ", static_cast<int>(type)));
}

FrameType TypeOf(const FrameBody& body) { return static_cast<FrameType>(body.index() + 1); }

}  // namespace meshkv::peer
