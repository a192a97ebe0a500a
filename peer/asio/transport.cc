#include "peer/asio/transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "asio/ssl/error.hpp"
#include "asio/ssl/stream.hpp"
#include "asio/write.hpp"
#include "peer/asio/tls_context.h"

namespace meshkv::peer {
namespace {

using asio::ip::tcp;

// Marks a status as an expiry refusal (IsCertificateExpiry).
constexpr absl::string_view kExpiryPayload = "type.meshkv.dev/certificate_expired";

absl::Status Expired(absl::Status s) {
  s.SetPayload(kExpiryPayload, absl::Cord("1"));
  return s;
}

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(asio::io_context& io) : socket_(io) {}

  tcp::socket& socket() override { return socket_; }
  bool secure() const override { return false; }
  void AsyncHandshake(Side, HandshakeHandler done) override {
    asio::post(socket_.get_executor(), [done = std::move(done)] { done(absl::OkStatus()); });
  }
  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler done) override {
    socket_.async_read_some(buffer, std::move(done));
  }
  void AsyncWrite(asio::const_buffer buffer, IoHandler done) override {
    asio::async_write(socket_, buffer, std::move(done));
  }
  void Close() override {
    asio::error_code ignored;
    socket_.close(ignored);
  }
  const std::string& peer_node_id() const override { return no_id_; }
  const X509* peer_certificate() const override { return nullptr; }
  absl::Status ErrorStatus(const asio::error_code& ec) const override {
    return TransportErrorStatus(ec);
  }

 private:
  tcp::socket socket_;
  const std::string no_id_;
};

std::string SubjectOf(const X509* cert) {
  if (cert == nullptr) return "(none)";
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  return buf;
}

// Why the chain of the peer's certificate did not verify, in words.
absl::Status DescribeVerifyFailure(int err, const X509* cert) {
  const std::string who = absl::StrCat("peer's certificate ", SubjectOf(cert));
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return Expired(absl::UnauthenticatedError(
          absl::StrCat(who, " expired at ", FormatAsn1Time(X509_get0_notAfter(cert)))));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " is not valid before ", FormatAsn1Time(X509_get0_notBefore(cert))));
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return absl::UnauthenticatedError(absl::StrCat(
          who, " is not signed by the cluster CA (", X509_verify_cert_error_string(err), ")"));
    default:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " refused: ", X509_verify_cert_error_string(err)));
  }
}

class TlsTransport final : public Transport {
 public:
  TlsTransport(asio::io_context& io, std::shared_ptr<asio::ssl::context> context)
      : context_(std::move(context)), stream_(io, *context_) {}

  tcp::socket& socket() override { return stream_.next_layer(); }
  bool secure() const override { return true; }

  void AsyncHandshake(Side side, HandshakeHandler done) override {
    asio::error_code ec;
    // Records why a certificate was refused, which OpenSSL's error code alone
    // does not say (whose certificate, which expiry time).
    stream_.set_verify_callback(
        [this](bool preverified, asio::ssl::verify_context& v) { return Verify(preverified, v); },
        ec);
    if (ec) {
      asio::post(stream_.get_executor(),
                 [done = std::move(done), s = TransportErrorStatus(ec)] { done(s); });
      return;
    }
    stream_.async_handshake(
        side == Side::kClient ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
        [this, done = std::move(done)](const asio::error_code& ec) { done(Handshaken(ec)); });
  }

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler done) override {
    stream_.async_read_some(buffer, std::move(done));
  }
  void AsyncWrite(asio::const_buffer buffer, IoHandler done) override {
    asio::async_write(stream_, buffer, std::move(done));
  }
  void Close() override {
    asio::error_code ignored;
    stream_.next_layer().close(ignored);
  }
  const std::string& peer_node_id() const override { return peer_node_id_; }
  const X509* peer_certificate() const override {
    return handshaken_ ? SSL_get0_peer_certificate(
                             const_cast<asio::ssl::stream<tcp::socket>&>(stream_).native_handle())
                       : nullptr;
  }
  absl::Status ErrorStatus(const asio::error_code& ec) const override {
    return TransportErrorStatus(ec);
  }

 private:
  bool Verify(bool preverified, asio::ssl::verify_context& v) {
    X509_STORE_CTX* sctx = v.native_handle();
    X509* cert = X509_STORE_CTX_get_current_cert(sctx);
    if (!preverified) {
      if (refusal_.ok()) refusal_ = DescribeVerifyFailure(X509_STORE_CTX_get_error(sctx), cert);
      return false;
    }
    if (X509_STORE_CTX_get_error_depth(sctx) == 0) {
      // A valid certificate from the CA that names no node (a client's
      // certificate, say) does not make a member.
      auto id = NodeIdFromCertificate(cert);
      if (!id.ok()) {
        if (refusal_.ok()) refusal_ = id.status();
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return false;
      }
    }
    return true;
  }

  absl::Status Handshaken(const asio::error_code& ec) {
    if (ec) {
      absl::Status s = refusal_.ok() ? TransportErrorStatus(ec) : refusal_;
      ERR_clear_error();
      return s;
    }
    SSL* ssl = stream_.native_handle();
    if (SSL_version(ssl) != TLS1_3_VERSION) {
      return absl::UnauthenticatedError("peer negotiated TLS older than 1.3");
    }
    // verify_fail_if_no_peer_cert makes the server side refuse a peer with
    // no certificate; the client side must check that the server sent one.
    const X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
      return absl::UnauthenticatedError("peer presented no verified certificate");
    }
    auto id = NodeIdFromCertificate(cert);
    if (!id.ok()) return id.status();
    peer_node_id_ = *std::move(id);
    handshaken_ = true;
    return absl::OkStatus();
  }

  std::shared_ptr<asio::ssl::context> context_;  // shared; outlives stream_
  asio::ssl::stream<tcp::socket> stream_;
  absl::Status refusal_;  // the first reason the verify callback refused
  bool handshaken_ = false;
  std::string peer_node_id_;
};

}  // namespace

TransportFactory TransportFactory::Plain() { return TransportFactory(nullptr); }

TransportFactory TransportFactory::Tls(std::shared_ptr<asio::ssl::context> context) {
  return TransportFactory(std::move(context));
}

std::shared_ptr<Transport> TransportFactory::New(asio::io_context& io) const {
  if (context_ == nullptr) return std::make_shared<PlainTransport>(io);
  return std::make_shared<TlsTransport>(io, context_);
}

absl::Status TransportErrorStatus(const asio::error_code& ec) {
  if (!ec) return absl::OkStatus();
  if (ec == asio::ssl::error::stream_truncated) {
    return absl::UnavailableError("peer closed the TLS connection without a close_notify");
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    const auto refused = [](absl::string_view why) {
      return absl::UnauthenticatedError(absl::StrCat("peer refused our certificate: ", why));
    };
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return absl::UnauthenticatedError("peer presented no certificate");
      case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return absl::UnauthenticatedError("peer requires a certificate and we sent none");
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        return refused("unknown CA (is it signed by the cluster CA the peer trusts?)");
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        return Expired(refused("expired (re-issue this node's certificate)"));
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        return refused("bad certificate (not a node certificate of this cluster?)");
      case SSL_R_CERTIFICATE_VERIFY_FAILED:
        return absl::UnauthenticatedError("peer's certificate did not verify");
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_PACKET_LENGTH_TOO_LONG:
      case SSL_R_HTTP_REQUEST:
      case SSL_R_RECORD_LENGTH_MISMATCH:
        return absl::UnauthenticatedError(
            "peer does not speak TLS (is one node running with --insecure?)");
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      case SSL_R_NO_PROTOCOLS_AVAILABLE:
        return absl::UnauthenticatedError("peer does not speak TLS 1.3");
      default:
        return absl::UnavailableError(absl::StrCat("TLS: ", ec.message()));
    }
  }
  if (ec == asio::error::eof) return absl::UnavailableError("connection closed by the peer");
  return absl::UnavailableError(ec.message());
}

bool IsCertificateExpiry(const absl::Status& status) {
  return status.GetPayload(kExpiryPayload).has_value();
}

}  // namespace meshkv::peer
