#include "peer/core/frame.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"

namespace meshkv::peer {
namespace {

void PutU32(uint32_t v, char* p) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} << 24 | uint32_t{u[1]} << 16 | uint32_t{u[2]} << 8 | uint32_t{u[3]};
}

uint32_t Checksum(const char* header, absl::string_view body) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(header), 8);
  // zlib takes uInt lengths; bodies are bounded far below 4 GiB.
  crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  return static_cast<uint32_t>(crc);
}

}  // namespace

const char* FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kHello:
      return "hello";
    case FrameType::kGoodbye:
      return "goodbye";
    case FrameType::kPeerList:
      return "peer_list";
    case FrameType::kPing:
      return "ping";
    case FrameType::kPong:
      return "pong";
    case FrameType::kWriteBatch:
      return "write_batch";
    case FrameType::kDigestOffer:
      return "digest_offer";
    case FrameType::kBucketKeys:
      return "bucket_keys";
    case FrameType::kRecordChunk:
      return "record_chunk";
    case FrameType::kPull:
      return "pull";
    case FrameType::kSyncEnd:
      return "sync_end";
    case FrameType::kPrune:
      return "prune";
    case FrameType::kGraft:
      return "graft";
    case FrameType::kAck:
      return "ack";
  }
  return "unknown";
}

void AppendFrame(FrameType type, const google::protobuf::MessageLite& body, std::string* out) {
  const size_t start = out->size();
  const size_t length = body.ByteSizeLong();
  out->resize(start + kFrameHeaderBytes + length);
  char* header = out->data() + start;
  header[0] = static_cast<char>(kProtocolVersion);
  header[1] = static_cast<char>(type);
  header[2] = header[3] = 0;
  PutU32(static_cast<uint32_t>(length), header + 4);
  body.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(header + kFrameHeaderBytes));
  PutU32(Checksum(header, absl::string_view(header + kFrameHeaderBytes, length)), header + 8);
}

void AppendRawFrame(uint8_t type, absl::string_view body, std::string* out) {
  const size_t start = out->size();
  out->resize(start + kFrameHeaderBytes);
  char* header = out->data() + start;
  header[0] = static_cast<char>(kProtocolVersion);
  header[1] = static_cast<char>(type);
  header[2] = header[3] = 0;
  PutU32(static_cast<uint32_t>(body.size()), header + 4);
  PutU32(Checksum(header, body), header + 8);
  out->append(body.data(), body.size());
}

bool FrameDecoder::Next(FrameType* type, absl::string_view* body) {
  if (!status_.ok()) return false;
  // Reclaim the consumed prefix once it dominates the buffer.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  if (buffered() < kFrameHeaderBytes) return false;
  const char* h = buffer_.data() + consumed_;
  const auto version = static_cast<uint8_t>(h[0]);
  const auto raw_type = static_cast<uint8_t>(h[1]);
  const uint32_t length = GetU32(h + 4);
  if (version != kProtocolVersion) {
    status_ = absl::InvalidArgumentError(absl::StrCat("frame of protocol version ", version,
                                                      "; this node speaks ", kProtocolVersion));
  } else if (raw_type == 0 || raw_type > kMaxFrameType) {
    status_ = absl::InvalidArgumentError(absl::StrCat("unknown frame type ", raw_type));
  } else if (h[2] != 0 || h[3] != 0) {
    status_ = absl::InvalidArgumentError("frame flags must be zero");
  } else if (length > max_body_bytes_) {
    status_ = absl::ResourceExhaustedError(
        absl::StrCat("frame of ", length, " bytes exceeds the maximum of ", max_body_bytes_));
  }
  if (!status_.ok()) return false;
  if (buffered() < kFrameHeaderBytes + length) return false;
  const absl::string_view b(h + kFrameHeaderBytes, length);
  if (GetU32(h + 8) != Checksum(h, b)) {
    status_ = absl::DataLossError("frame checksum mismatch");
    return false;
  }
  *type = static_cast<FrameType>(raw_type);
  *body = b;
  consumed_ += kFrameHeaderBytes + length;
  return true;
}

}  // namespace meshkv::peer
