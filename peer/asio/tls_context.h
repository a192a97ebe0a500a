// TLS for the mesh: the cluster's certificates, the context peer connections
// run on, and what a verified certificate says about the peer.
//
// Every node holds the cluster CA (ca.crt) and its own certificate
// (node.crt, node.key; scripts/certs.sh makes them). Peer connections are
// TLS 1.3 only and verified both ways against that CA: a node that dials is
// a client presenting node.crt, a node that accepts is a server asking for
// one (verify_peer | verify_fail_if_no_peer_cert). A node certificate names
// its node ID as a URI SAN, `urn:meshkv:node:<percent-encoded ID>`; a peer
// whose certificate names no node ID (a client certificate from the same CA,
// say) is refused during the handshake, and once the peer's Hello arrives
// CheckPeerNodeId() refuses a Hello claiming another ID than the certificate.
//
//   TlsFiles files = TlsFilesFromCertsDir("/var/lib/meshkv/certs");
//   auto ctx = MakeMeshTlsContext(files);          // StatusOr<shared_ptr<context>>
//   if (!ctx.ok()) return ctx.status();            // "node.crt expired at ..."
//   TransportFactory tls = TransportFactory::Tls(*ctx);   // transport.h
//
// Errors are absl::Status: INVALID_ARGUMENT for files that cannot be used
// (missing, unparsable, key not matching, not signed by the CA, expired:
// the message names the file and the expiry time), UNAUTHENTICATED for a
// peer's certificate that proves nothing, PERMISSION_DENIED for a valid
// certificate that does not name what the peer claims.
//
// Thread safety: the functions are pure; a context is safe to share between
// connections once made (OpenSSL's SSL_CTX is, when not modified).
#ifndef MESHKV_PEER_ASIO_TLS_CONTEXT_H_
#define MESHKV_PEER_ASIO_TLS_CONTEXT_H_

#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asio/ssl/context.hpp"

namespace meshkv::peer {

// The URI SAN prefix of a node certificate; the ID follows, percent-encoded.
inline constexpr absl::string_view kNodeUriPrefix = "urn:meshkv:node:";
// Longest node ID a certificate may name (decoded bytes). IDs end up in logs
// and metric labels, so they are short, printable and bounded.
inline constexpr size_t kMaxNodeIdBytes = 128;

// Where a node's certificates are: `--certs-dir DIR` or the three files of
// `--tls-ca --tls-cert --tls-key`.
struct TlsFiles {
  std::string ca_file;    // the cluster CA, trusted for peers
  std::string cert_file;  // this node's certificate (chain)
  std::string key_file;   // its private key
};

// DIR/ca.crt, DIR/node.crt, DIR/node.key (CockroachDB's layout).
TlsFiles TlsFilesFromCertsDir(absl::string_view certs_dir);

// The one mapping from the security flags to files: either `certs_dir`, or
// all three of `tls_ca`, `tls_cert`, `tls_key` (an explicit file may also
// override one file of the certs dir). INVALID_ARGUMENT names what is
// missing. Does not read the files.
absl::StatusOr<TlsFiles> ResolveTlsFiles(absl::string_view certs_dir, absl::string_view tls_ca,
                                         absl::string_view tls_cert, absl::string_view tls_key);

// Loads and checks the files without making a context: both parse, the key
// matches the certificate, the certificate chains to the CA and is valid
// now. The server's gRPC credentials use the same check.
absl::Status CheckTlsFiles(const TlsFiles& files);

// The mesh's TLS context: TLS 1.3 only, this node's certificate and key,
// peers verified against the CA both ways. Fails as CheckTlsFiles() does.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeMeshTlsContext(const TlsFiles& files);

// The node ID a certificate names: exactly one `urn:meshkv:node:` URI SAN,
// percent-decoded, 1..kMaxNodeIdBytes printable bytes. UNAUTHENTICATED when
// there is none, several, or a malformed one. Does not verify the chain:
// call it on a certificate the handshake verified.
absl::StatusOr<std::string> NodeIdFromCertificate(const X509* cert);

// OK when the (verified) certificate names `claimed_id`; PERMISSION_DENIED
// naming both IDs when it names another; as NodeIdFromCertificate otherwise.
absl::Status CheckPeerNodeId(const X509* cert, absl::string_view claimed_id);

// OK when `host` (a DNS name or an IP address, without port) is one of the
// certificate's DNS/IP SANs: a peer's advertised address is trusted only
// then. PERMISSION_DENIED otherwise.
absl::Status CheckCertificateHost(const X509* cert, absl::string_view host);

// Percent-decodes a node ID as it appears after kNodeUriPrefix (strict: '%'
// takes two hex digits). Exposed for tests and the fuzz target.
absl::StatusOr<std::string> DecodeNodeIdFromUri(absl::string_view encoded);

// An X509 that frees itself.
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// Reads the first certificate of a PEM file (tests, tools).
absl::StatusOr<X509Ptr> LoadCertificate(const std::string& pem_file);
// Parses a PEM certificate held in memory.
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem);

// "2026-12-01T10:00:00Z": a certificate time as messages show it.
std::string FormatAsn1Time(const ASN1_TIME* t);

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_ASIO_TLS_CONTEXT_H_
