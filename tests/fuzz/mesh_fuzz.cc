// Fuzz target: a peer that completed a valid handshake, then sends frames
// with arbitrary types and bodies (framed correctly, so that the bodies
// reach the protocol handlers instead of failing the checksum), with timer
// ticks in between. The core must never crash; whatever it decides, it must
// keep serving its other connection.
//
// Input: a script of steps [op: u8][len: u16][bytes: len]. op % 4 == 3 sends
// `bytes` raw (unframed), op % 4 == 2 ticks the clock by `len` ms, else
// `bytes` goes out as the body of a frame of type op / 4.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/clock.h"
#include "google/protobuf/stubs/logging.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/frame.h"
#include "peer/core/mesh.h"
#include "common/env.h"
#include "server/node.h"
#include "store/store.h"

namespace {

using meshkv::peer::FrameType;

std::string Hello(const std::string& id, const std::string& addr) {
  meshkv::mesh::v1::Hello h;
  h.set_protocol_version(meshkv::peer::kProtocolVersion);
  h.set_cluster("fuzz");
  h.set_leasing(true);
  h.set_node_id(id);
  h.set_advertise_addr(addr);
  h.set_buckets(meshkv::Store::kBuckets);
  std::string out;
  meshkv::peer::AppendFrame(FrameType::kHello, h, &out);
  return out;
}

}  // namespace

// Hostile strings make protobuf log each failed parse; the fuzzer only
// cares that they fail.
static const bool kQuiet = [] {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return true;
}();

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  meshkv::ManualEnv env(1'700'000'000'000);
  meshkv::StoreOptions so;
  so.node_id = "fuzz-node";
  meshkv::Node node(so, &env);
  meshkv::peer::MeshOptions mo;
  mo.node_id = "fuzz-node";
  mo.advertise_addr = "10.0.0.1:4444";
  mo.cluster = "fuzz";
  meshkv::peer::Mesh mesh(mo, &node);
  int64_t now_us = 1'000'000;
  mesh.Start(now_us);
  const meshkv::peer::ConnId hostile = mesh.Accepted("10.0.0.2:5000", now_us);
  const meshkv::peer::ConnId honest = mesh.Accepted("10.0.0.3:5000", now_us);
  mesh.Received(hostile, Hello("hostile", "10.0.0.2:4444"), now_us);
  mesh.Received(honest, Hello("honest", "10.0.0.3:4444"), now_us);
  auto drain = [&] {
    for (meshkv::peer::ConnId id : mesh.TakeWritable()) {
      while (!mesh.TakeOutput(id, 1 << 20).empty()) {
      }
    }
    for (const auto& c : mesh.TakeCommands()) {
      if (c.kind == meshkv::peer::Command::kClose) mesh.Closed(c.conn, now_us);
    }
  };
  drain();
  size_t at = 0;
  while (at + 3 <= size) {
    const uint8_t op = data[at];
    const size_t len = (size_t{data[at + 1]} << 8 | data[at + 2]);
    at += 3;
    const absl::string_view bytes(reinterpret_cast<const char*>(data) + at,
                                  std::min(len, size - at));
    at += bytes.size();
    std::string wire;
    switch (op % 4) {
      case 3:
        wire.assign(bytes.data(), bytes.size());
        break;
      case 2:
        now_us += static_cast<int64_t>(len) * 1000;
        env.manual_clock()->Advance(absl::Milliseconds(static_cast<int64_t>(len)));
        mesh.Tick(now_us);
        drain();
        continue;
      default:
        meshkv::peer::AppendRawFrame(
            static_cast<uint8_t>(op / 4 % (meshkv::peer::kMaxFrameType + 2)), bytes, &wire);
    }
    mesh.Received(hostile, wire, now_us);
    drain();
  }
  // The honest peer is still served: its ping is answered.
  meshkv::mesh::v1::Ping ping;
  ping.set_nonce(7);
  std::string frame;
  meshkv::peer::AppendFrame(FrameType::kPing, ping, &frame);
  mesh.Received(honest, frame, now_us);
  bool answered = false;
  for (meshkv::peer::ConnId id : mesh.TakeWritable()) {
    if (id == honest) answered = !mesh.TakeOutput(id, 1 << 20).empty();
  }
  if (!answered) {
    // Only a timeout may have ended the honest connection: it was silent.
    bool alive = false;
    for (const auto& p : mesh.Snapshot(now_us).peers) alive = alive || p.node_id == "honest";
    if (alive) std::abort();
  }
  return 0;
}
