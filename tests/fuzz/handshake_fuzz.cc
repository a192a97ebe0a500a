// Fuzz target: the mesh as a stranger meets it, before authentication. A
// connection that has not completed the Hello exchange gets arbitrary bytes,
// Hello frames with arbitrary bodies, and well-formed Hellos with fuzzed
// fields, with timer ticks in between; on a node whose transport
// authenticates (TLS proved the peer is "n2", and its certificate names no
// host) or on one that does not (--insecure), as the first byte says.
//
// The core must never crash, and whatever it decides:
//   - an authenticated node establishes the stranger only as "n2", the ID its
//     certificate proves, and never dials the address it advertised;
//   - no established peer's ID is longer than Handshake::kMaxNodeIdBytes;
//   - the member connected before still has its ping answered.
//
// Input: [mode: u8] then steps [op: u8][len: u16][bytes: len]. op % 4: 0 a
// Hello frame whose body is `bytes`, 1 `bytes` raw, 2 a tick of `len` ms,
// 3 a Hello built from `bytes` (flags in its first byte, the rest its node
// ID).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/frame.h"
#include "peer/core/handshake.h"
#include "peer/core/map_replica.h"
#include "peer/core/mesh.h"

namespace {

namespace wire = ::meshkv::mesh::v1;
using meshkv::peer::FrameType;

constexpr uint32_t kBuckets = 16;

std::string Framed(const wire::Hello& h) {
  std::string out;
  meshkv::peer::AppendFrame(FrameType::kHello, h, &out);
  return out;
}

wire::Hello GoodHello(const std::string& id, const std::string& addr) {
  wire::Hello h;
  h.set_protocol_version(meshkv::peer::kProtocolVersion);
  h.set_cluster("fuzz");
  h.set_leasing(true);
  h.set_node_id(id);
  h.set_advertise_addr(addr);
  h.set_buckets(kBuckets);
  return h;
}

// A Hello that passes more of the checks the more flag bits are set.
wire::Hello FuzzedHello(absl::string_view bytes) {
  const uint8_t flags = bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]);
  const std::string rest(bytes.empty() ? bytes : bytes.substr(1));
  wire::Hello h = GoodHello(flags & 1 ? "n2" : rest, flags & 2 ? "10.0.0.9:4444" : rest);
  if (flags & 4) h.set_cluster(rest);
  if (flags & 8) h.set_buckets(kBuckets + 1);
  if (flags & 16) h.set_protocol_version(flags);
  if (flags & 32) h.set_leasing(false);
  return h;
}

// Whether "n2" sent a peer list (a member may list any address).
bool Listed(const meshkv::peer::MeshSnapshot& s) {
  for (const auto& [id, c] : s.counters) {
    if (id == "n2" && c.frames_received[static_cast<int>(FrameType::kPeerList)] > 0) return true;
  }
  return false;
}

}  // namespace

// Hostile bodies make protobuf log each failed parse; the fuzzer only cares
// that they fail.
static const bool kQuiet = [] {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return true;
}();

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool authenticated = data[0] & 1;
  meshkv::peer::MapReplica replica(kBuckets);
  meshkv::peer::MeshOptions mo;
  mo.node_id = "fuzz-node";
  mo.advertise_addr = "10.0.0.1:4444";
  mo.cluster = "fuzz";
  mo.authenticated = authenticated;
  meshkv::peer::Mesh mesh(mo, &replica);
  int64_t now_us = 1'000'000;
  mesh.Start(now_us);
  const auto no_host = [](const std::string&) { return false; };
  const meshkv::peer::ConnId member = mesh.Accepted("10.0.0.3:5000", now_us);
  const meshkv::peer::ConnId stranger = mesh.Accepted("10.0.0.2:5000", now_us);
  if (authenticated) {
    mesh.Secured(member, "member", now_us, [](const std::string&) { return true; });
    mesh.Secured(stranger, "n2", now_us, no_host);
  }
  mesh.Received(member, Framed(GoodHello("member", "10.0.0.3:4444")), now_us);
  auto drain = [&] {
    for (meshkv::peer::ConnId id : mesh.TakeWritable()) {
      while (!mesh.TakeOutput(id, 1 << 20).empty()) {
      }
    }
    for (const auto& c : mesh.TakeCommands()) {
      if (c.kind == meshkv::peer::Command::kClose) mesh.Closed(c.conn, now_us);
      if (c.kind == meshkv::peer::Command::kDial) {
        // Not the certificate's host: dialled only if a member listed it.
        if (authenticated && c.addr == "10.0.0.9:4444" && !Listed(mesh.Snapshot(now_us))) {
          std::abort();
        }
        mesh.ConnectFailed(c.conn, "fuzz", now_us);
      }
    }
  };
  drain();
  size_t at = 1;
  while (at + 3 <= size) {
    const uint8_t op = data[at];
    const size_t len = (size_t{data[at + 1]} << 8 | data[at + 2]);
    at += 3;
    const absl::string_view bytes(reinterpret_cast<const char*>(data) + at,
                                  std::min(len, size - at));
    at += bytes.size();
    std::string wire_bytes;
    switch (op % 4) {
      case 0:
        meshkv::peer::AppendRawFrame(static_cast<uint8_t>(FrameType::kHello), bytes, &wire_bytes);
        break;
      case 1:
        wire_bytes.assign(bytes.data(), bytes.size());
        break;
      case 2:
        now_us += static_cast<int64_t>(len) * 1000;
        mesh.Tick(now_us);
        drain();
        continue;
      default:
        wire_bytes = Framed(FuzzedHello(bytes));
    }
    mesh.Received(stranger, wire_bytes, now_us);
    drain();
  }
  const meshkv::peer::MeshSnapshot snap = mesh.Snapshot(now_us);
  bool member_alive = false;
  for (const meshkv::peer::PeerStatus& p : snap.peers) {
    if (p.state != "established") continue;
    if (p.node_id.size() > meshkv::peer::Handshake::kMaxNodeIdBytes) std::abort();
    if (authenticated && p.node_id != "member" && p.node_id != "n2") std::abort();
    member_alive = member_alive || p.node_id == "member";
  }
  if (!member_alive) return 0;  // only its silence (a long tick) may have ended it
  wire::Ping ping;
  ping.set_nonce(7);
  std::string frame;
  meshkv::peer::AppendFrame(FrameType::kPing, ping, &frame);
  mesh.Received(member, frame, now_us);
  bool answered = false;
  for (meshkv::peer::ConnId id : mesh.TakeWritable()) {
    if (id == member) answered = !mesh.TakeOutput(id, 1 << 20).empty();
  }
  if (!answered) std::abort();
  return 0;
}
