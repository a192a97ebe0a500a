// Handshake: the rules of the Hello exchange that opens every connection.
//
// Each side sends a Hello (MakeHello) as soon as the connection is up and
// checks the other's (Check): a mismatch of protocol version, cluster name,
// leasing mode or bucket count, or a Hello without node ID or address, is
// refused with a reason both sides log (Goodbye REFUSED); a Hello carrying
// our own node ID means we dialled ourselves under some name. A node ID
// over kMaxNodeIdBytes or with control characters is refused. Of two
// connections between one pair of nodes, both sides keep the same one
// (KeepsOther): the one dialled by the smaller node ID, the older if both
// were.
//
// Pure functions of their arguments: thread-compatible.
#ifndef MESHKV_PEER_CORE_HANDSHAKE_H_
#define MESHKV_PEER_CORE_HANDSHAKE_H_

#include <cstdint>
#include <string>

#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/mesh_types.h"

namespace meshkv::peer {

class Handshake {
 public:
  // Longest node ID a Hello may claim, as a certificate may name
  // (tls_context.h): IDs become log fields and metric labels.
  static constexpr size_t kMaxNodeIdBytes = 128;

  // What this node says of itself, and requires of its peers.
  struct Local {
    std::string node_id;
    std::string advertise_addr;
    std::string cluster;
    bool leasing = true;
    uint32_t buckets = 0;
    int64_t incarnation_ms = 0;
  };

  enum class Verdict {
    kAccept,  // a peer of this cluster
    kRefuse,  // incompatible: Goodbye REFUSED with `refusal`
    kSelf,    // our own node ID: close silently, never dial that address again
  };
  struct Outcome {
    Verdict verdict = Verdict::kAccept;
    std::string refusal;  // kRefuse: why, for both sides' logs
  };

  static meshkv::mesh::v1::Hello MakeHello(const Local& local, bool synced);
  static Outcome Check(const meshkv::mesh::v1::Hello& hello, const Local& local);

  // One side of a connection between this node (`self`) and `peer`.
  struct Side {
    bool outbound;  // dialled by this node
    ConnId id;      // the core numbers connections in order of creation
  };
  // Whether, of `other` and `candidate` (two live connections between
  // `self` and `peer`), `other` is kept and `candidate` closed as
  // DUPLICATE. Both nodes decide alike.
  static bool KeepsOther(const std::string& self, const std::string& peer, Side other,
                         Side candidate);
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_HANDSHAKE_H_
