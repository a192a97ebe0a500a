// RawPeer: the test's own end of one mesh connection to a real node, to play
// the attacker: a real socket, plain or TLS on the project's Transport (any
// certificate the test likes, a member's included), frames made and read with
// the project's framing code, and nothing of the mesh core, so that the test
// sends exactly the frames it means to.
//
//   RawPeer p(TransportFactory::Tls(ctx));
//   ASSERT_OK(p.Connect(node.mesh_addr()));        // TCP, then TLS as a client
//   ASSERT_TRUE(p.ReadUntil([&] { return p.Got(FrameType::kHello); }));
//   p.Send(FrameType::kHello, hello);
//   p.ReadFor(absl::Seconds(1));                   // collects frames
//
// Synchronous: each call runs the connection's io_context until it is done.
// Not thread-safe.
#ifndef MESHKV_TESTS_CLUSTER_RAW_PEER_H_
#define MESHKV_TESTS_CLUSTER_RAW_PEER_H_

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asio/connect.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "common/host_port.h"
#include "google/protobuf/message_lite.h"
#include "peer/asio/transport.h"
#include "peer/core/frame.h"

namespace meshkv::testing {

class RawPeer {
 public:
  struct Frame {
    peer::FrameType type;
    std::string body;
  };

  explicit RawPeer(peer::TransportFactory transports)
      : transport_(transports.New(io_)), decoder_(64 << 20) {}
  ~RawPeer() { transport_->Close(); }

  // Connects to `addr` (host:port) and runs the transport's handshake as the
  // dialler: the status says why TLS failed, if it did.
  absl::Status Connect(const std::string& addr) {
    auto hp = SplitHostPort(addr);
    if (!hp.ok()) return hp.status();
    asio::error_code ec;
    transport_->socket().connect(asio::ip::tcp::endpoint(asio::ip::make_address(hp->first, ec),
                                                         static_cast<uint16_t>(hp->second)),
                                 ec);
    if (ec) return absl::UnavailableError(ec.message());
    absl::Status result = absl::DeadlineExceededError("TLS handshake did not complete");
    bool done = false;
    transport_->AsyncHandshake(peer::Transport::Side::kClient, [&](absl::Status s) {
      result = std::move(s);
      done = true;
    });
    RunUntil(done);
    return result;
  }

  void SendRaw(const std::string& bytes) {
    asio::error_code result = asio::error::timed_out;
    bool done = false;
    transport_->AsyncWrite(asio::buffer(bytes), [&](const asio::error_code& ec, size_t) {
      result = ec;
      done = true;
    });
    RunUntil(done);
    if (result) write_error_ = result;
  }
  void Send(peer::FrameType type, const google::protobuf::MessageLite& body) {
    std::string frame;
    peer::AppendFrame(type, body, &frame);
    SendRaw(frame);
  }

  // Reads until `done()` holds (checked after each read), the stream ends,
  // or `timeout` passes; returns done().
  bool ReadUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done() && !closed() && absl::Now() < deadline) {
      if (!reading_) StartRead();
      io_.restart();
      io_.run_for(std::chrono::milliseconds(50));
    }
    return done();
  }
  // Reads for `d` (or until the stream ends).
  void ReadFor(absl::Duration d) {
    ReadUntil([] { return false; }, d);
  }

  // Everything received: the raw bytes (decrypted), the frames in them, and
  // whether the node ended the stream (with which error).
  const std::string& bytes() const { return bytes_; }
  const std::vector<Frame>& frames() const { return frames_; }
  bool Got(peer::FrameType type) const { return Find(type) != nullptr; }
  // The last frame of `type` received, parsed; false when none.
  template <typename Message>
  bool Last(peer::FrameType type, Message* out) const {
    const Frame* f = Find(type);
    return f != nullptr && out->ParseFromString(f->body);
  }
  bool closed() const { return static_cast<bool>(read_error_) || static_cast<bool>(write_error_); }
  absl::Status close_status() const { return transport_->ErrorStatus(read_error_); }

 private:
  // Runs handlers until `done` (set by one of them) or 10 s; a read may stay
  // pending.
  void RunUntil(const bool& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    io_.restart();
    while (!done && absl::Now() < deadline) io_.run_one_for(std::chrono::milliseconds(50));
  }

  const Frame* Find(peer::FrameType type) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      if (it->type == type) return &*it;
    }
    return nullptr;
  }

  void StartRead() {
    reading_ = true;
    transport_->AsyncReadSome(asio::buffer(buf_), [this](const asio::error_code& ec, size_t n) {
      reading_ = false;
      if (ec) {
        read_error_ = ec;
        return;
      }
      bytes_.append(buf_.data(), n);
      decoder_.Feed(absl::string_view(buf_.data(), n));
      peer::FrameType type;
      absl::string_view body;
      while (decoder_.Next(&type, &body)) frames_.push_back({type, std::string(body)});
      StartRead();
    });
  }

  asio::io_context io_;
  std::shared_ptr<peer::Transport> transport_;
  peer::FrameDecoder decoder_;
  std::array<char, 64 << 10> buf_;
  bool reading_ = false;
  std::string bytes_;
  std::vector<Frame> frames_;
  asio::error_code read_error_, write_error_;
};

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_CLUSTER_RAW_PEER_H_
