// FrameBody: a frame's body parsed once, by its type, into the message the
// type names (peer/core/frame.h lists the types, docs/mesh.md the messages).
//
// The core decodes frames with FrameDecoder, then calls ParseFrameBody once
// per frame and dispatches on the variant: a body that does not parse is a
// protocol error decided here, in one place, with one message ("malformed
// hello", ...), instead of in every handler.
//
//   absl::StatusOr<FrameBody> body = ParseFrameBody(type, bytes);
//   if (!body.ok()) return ProtocolError(c, body.status().message());
//   if (auto* ping = std::get_if<wire::Ping>(&*body)) ...
//
// Thread-compatible: free functions over values.
#ifndef MESHKV_PEER_CORE_FRAME_BODY_H_
#define MESHKV_PEER_CORE_FRAME_BODY_H_

#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/frame.h"

namespace meshkv::peer {

// One alternative per FrameType, in the order of the enum.
using FrameBody =
    std::variant<meshkv::mesh::v1::Hello, meshkv::mesh::v1::Goodbye, meshkv::mesh::v1::PeerList,
                 meshkv::mesh::v1::Ping, meshkv::mesh::v1::Pong, meshkv::mesh::v1::WriteBatch,
                 meshkv::mesh::v1::DigestOffer, meshkv::mesh::v1::BucketKeys,
                 meshkv::mesh::v1::RecordChunk, meshkv::mesh::v1::Pull, meshkv::mesh::v1::SyncEnd,
                 meshkv::mesh::v1::Prune, meshkv::mesh::v1::Graft, meshkv::mesh::v1::Ack>;

// The body of a frame of `type`, parsed; InvalidArgument "malformed <name>"
// when it does not parse.
absl::StatusOr<FrameBody> ParseFrameBody(FrameType type, absl::string_view body);

// The frame type that carries `body`.
FrameType TypeOf(const FrameBody& body);

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_FRAME_BODY_H_
