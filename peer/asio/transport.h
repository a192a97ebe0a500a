// Transport: one peer connection's byte stream, plain TCP or TLS, behind
// one interface, so that the mesh driver's read and write code is the same
// for both.
//
// The life of a transport: kNew -> (connect or accept on socket()) ->
// AsyncHandshake -> kReady (reads and writes) -> Close() -> kClosed. A plain
// transport's handshake completes at once (and proves nothing: peer_node_id()
// stays empty); a TLS transport's runs TLS 1.3 with mutual verification
// against the cluster CA (tls_context.h) and, on success, peer_node_id() is
// the node ID the peer's verified certificate names. The Hello that follows
// must then claim that ID: CheckPeerNodeId(transport.peer_certificate(), id).
//
//   TransportFactory factory = TransportFactory::Tls(ctx);   // or ::Plain()
//   std::shared_ptr<Transport> t = factory.New(io);
//   acceptor.async_accept(t->socket(), [t](asio::error_code ec) {
//     t->AsyncHandshake(Transport::Side::kServer, [t](absl::Status s) {
//       if (!s.ok()) { log(s); t->Close(); return; }   // names the reason
//       t->AsyncReadSome(buf, ...);                     // as for plain TCP
//     });
//   });
//
// In TLS 1.3 the client's side of the handshake ends before the server has
// checked the client's certificate: a client the server refuses learns it
// from its first read, whose error ErrorStatus() turns into the same kind of
// reason ("peer refused our certificate: ...").
//
// Thread safety: none. A transport, like the socket it wraps, is used from
// the thread running its io_context (the mesh thread). At most one read and
// one write may be in flight, as with a socket.
#ifndef MESHKV_PEER_ASIO_TRANSPORT_H_
#define MESHKV_PEER_ASIO_TRANSPORT_H_

#include <openssl/x509.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asio/buffer.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/ssl/context.hpp"

namespace meshkv::peer {

class Transport {
 public:
  enum class Side { kClient, kServer };  // the dialer is the TLS client
  using IoHandler = std::function<void(const asio::error_code&, std::size_t)>;
  using HandshakeHandler = std::function<void(absl::Status)>;

  virtual ~Transport() = default;

  // The TCP socket underneath: connect or accept on it, then handshake.
  virtual asio::ip::tcp::socket& socket() = 0;
  // True for TLS: the peer's identity is proven after the handshake.
  virtual bool secure() const = 0;

  // Completes with OK, or with why the connection cannot be trusted
  // (UNAUTHENTICATED: no certificate, another CA, expired, naming the expiry
  // time, not a node certificate; UNAVAILABLE: the connection failed).
  virtual void AsyncHandshake(Side side, HandshakeHandler done) = 0;
  // As asio's async_read_some and async_write (the whole buffer).
  virtual void AsyncReadSome(asio::mutable_buffer buffer, IoHandler done) = 0;
  virtual void AsyncWrite(asio::const_buffer buffer, IoHandler done) = 0;
  // Closes the socket at once; pending operations end with an error. No TLS
  // close_notify: the mesh's own goodbye frame marks a clean end.
  virtual void Close() = 0;

  // After a successful TLS handshake: the node ID the peer's certificate
  // names, and the certificate itself (owned by the transport). Empty and
  // null for plain TCP.
  virtual const std::string& peer_node_id() const = 0;
  virtual const X509* peer_certificate() const = 0;

  // A read or write error as a status with a reason a log can show.
  virtual absl::Status ErrorStatus(const asio::error_code& ec) const = 0;
};

// Makes the transports of one node: all plain, or all TLS on one context.
// Copyable; the context is shared by every transport made.
class TransportFactory {
 public:
  static TransportFactory Plain();
  static TransportFactory Tls(std::shared_ptr<asio::ssl::context> context);

  std::shared_ptr<Transport> New(asio::io_context& io) const;
  bool secure() const { return context_ != nullptr; }

 private:
  explicit TransportFactory(std::shared_ptr<asio::ssl::context> context)
      : context_(std::move(context)) {}
  std::shared_ptr<asio::ssl::context> context_;  // null: plain TCP
};

// A TLS (or socket) error code as a status: alerts from the peer read as
// "peer refused our certificate: <why>", a plaintext peer as "peer does not
// speak TLS". Shared by both transports.
absl::Status TransportErrorStatus(const asio::error_code& ec);

// Whether a transport's status is a refusal for an expired certificate: the
// peer's (this side verified it), or ours (the peer's alert said so). The
// mesh counts those apart (Refusal::kCertificateExpired).
bool IsCertificateExpiry(const absl::Status& status);

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_ASIO_TRANSPORT_H_
