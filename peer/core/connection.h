// Connection: the core's state of one TCP connection, inbound or outbound,
// for its whole life: where it is in the handshake, its frame decoder and
// output, what the peer said in its Hello, its round-trip time, its writes
// being batched, its share of the dissemination trees and its anti-entropy
// sessions. The mesh core owns every Connection; parts (Membership,
// Dissemination, AntiEntropy) read and update the fields that are theirs.
//
// Not thread-safe: owned by the mesh core.
#ifndef MESHKV_PEER_CORE_CONNECTION_H_
#define MESHKV_PEER_CORE_CONNECTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/dissemination.h"
#include "peer/core/frame.h"
#include "peer/core/mesh_types.h"
#include "peer/core/sync_session.h"

namespace meshkv::peer {

// The flow is: (dialled) kDialing -> (kSecuring) -> kHandshaking ->
// kEstablished -> kClosing; accepted connections start at kSecuring when the
// transport authenticates peers (MeshOptions::authenticated), else at
// kHandshaking.
//   kDialing      the core asked for a kDial; the driver reports Connected()
//                 (then our Hello goes out, or the transport's handshake
//                 starts) or ConnectFailed().
//   kSecuring     the transport's own handshake (TLS) runs; the core sends
//                 nothing. The driver reports Secured() with the node ID the
//                 peer's certificate proves, or TransportRefused().
//   kHandshaking  our Hello is sent; the peer's must arrive within
//                 handshake_timeout_ms. Only Hello and Goodbye are valid.
//   kEstablished  the Hellos matched (Handshake::Check) and no other
//                 connection to the same node is preferred.
//   kClosing      the core sent a kClose command (after a Goodbye, unless the
//                 close is silent); it waits for the driver to flush the
//                 output and report Closed(). Nothing received is read.
enum class ConnectionState { kDialing, kSecuring, kHandshaking, kEstablished, kClosing };

// "dialing", "securing", "handshaking", "established", "closing" (as in
// MeshSnapshot).
const char* Name(ConnectionState state);

struct Connection {
  // `max_frame_bytes`: the limit until the handshake ends (Establish raises it).
  Connection(ConnId id, bool outbound, std::string addr, size_t max_frame_bytes, int64_t now_ms)
      : id(id),
        outbound(outbound),
        addr(std::move(addr)),
        decoder(max_frame_bytes),
        created_ms(now_ms),
        last_recv_ms(now_ms) {}

  bool established() const { return state == ConnectionState::kEstablished; }
  bool closing() const { return state == ConnectionState::kClosing; }
  // The node ID if known, else the address: for logs.
  const std::string& who() const { return peer_id.empty() ? addr : peer_id; }

  const ConnId id;
  const bool outbound;
  const std::string addr;  // dialled address (a dial target), or the remote endpoint
  ConnectionState state = ConnectionState::kHandshaking;
  FrameDecoder decoder;
  std::string out;  // frames waiting for the driver
  bool queued_writable = false;

  const int64_t created_ms;
  int64_t last_recv_ms;
  int64_t established_ms = 0;
  int64_t last_ping_ms = 0;
  double rtt_ms = 0;  // smoothed, from Pong

  // The node ID the transport proved (its certificate), after Secured(),
  // and which hosts it proves (null: none checked).
  std::string certified_id;
  HostCheck certifies_host;
  // Known after the peer's Hello.
  std::string peer_id;
  std::string peer_addr;
  bool peer_synced = false;  // as its Hello said

  // Writes gathered during the current input, sent as one frame.
  meshkv::mesh::v1::WriteBatch batch;
  size_t batch_bytes = 0;

  // This link's part in the per-origin dissemination trees.
  LinkTrees trees;

  std::optional<SyncSession> initiated;   // our anti-entropy session
  std::optional<SyncSession> responding;  // theirs
  bool want_sync = false;                 // writes were dropped: repair soon
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_CONNECTION_H_
