// The mesh wire format: a stream of frames over TCP, in both directions.
//
// A frame is a 12-byte header followed by a body of `length` bytes:
//
//   version  u8    kProtocolVersion (1)
//   type     u8    FrameType below: which message the body holds
//   flags    u16   reserved, 0
//   length   u32   body length, big-endian, at most the receiver's maximum
//   checksum u32   CRC-32 (zlib) of bytes 0..7 of the header and the body,
//                  big-endian
//
// The body is the serialised protobuf message named by the type
// (proto/meshkv/mesh/v1/mesh.proto). A receiver closes the connection on a
// frame of another version, an unknown type, non-zero flags, a length over
// its maximum, a checksum mismatch, or a body that does not parse. See
// docs/mesh.md for the messages and the connection state machine.
#ifndef MESHKV_PEER_CORE_FRAME_H_
#define MESHKV_PEER_CORE_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace meshkv::peer {

constexpr uint8_t kProtocolVersion = 1;
constexpr size_t kFrameHeaderBytes = 12;

enum class FrameType : uint8_t {
  kHello = 1,
  kGoodbye = 2,
  kPeerList = 3,
  kPing = 4,
  kPong = 5,
  kWriteBatch = 6,
  kDigestOffer = 7,
  kBucketKeys = 8,
  kRecordChunk = 9,
  kPull = 10,
  kSyncEnd = 11,
  kPrune = 12,
  kGraft = 13,
  kAck = 14,
};
constexpr uint8_t kMaxFrameType = 14;

const char* FrameTypeName(FrameType type);

// Appends one frame holding `body` to `out`.
void AppendFrame(FrameType type, const google::protobuf::MessageLite& body, std::string* out);
// Appends one frame around bytes already serialised, of any type byte: for
// tests and fuzzers that need well-framed hostile bodies.
void AppendRawFrame(uint8_t type, absl::string_view body, std::string* out);

// Splits a byte stream into frames. Feed it what arrives, in order; take
// frames while Next() returns true. After an error the stream is unusable:
// the connection must be closed.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

  // The handshake's end raises the limit; it applies to the next header.
  void set_max_body_bytes(size_t max) { max_body_bytes_ = max; }

  void Feed(absl::string_view bytes) { buffer_.append(bytes.data(), bytes.size()); }

  // True with the next whole frame; false when more bytes are needed or on
  // error (then status() says why). `*body` stays valid until the next call
  // to Next() or Feed().
  bool Next(FrameType* type, absl::string_view* body);
  const absl::Status& status() const { return status_; }
  // The error is a length header over the maximum (RESOURCE_EXHAUSTED).
  bool oversized() const { return absl::IsResourceExhausted(status_); }
  // Bytes received but not yet returned as frames.
  size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  size_t max_body_bytes_;
  std::string buffer_;
  size_t consumed_ = 0;  // bytes of buffer_ already returned
  absl::Status status_;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_FRAME_H_
