#include "server/mesh_security.h"

#include "absl/strings/str_cat.h"
#include "peer/asio/tls_context.h"

namespace meshkv {

bool MeshTlsRequested(const ServerConfig& c) {
  return !c.certs_dir.empty() || !c.tls_ca.empty() || !c.tls_cert.empty() || !c.tls_key.empty();
}

absl::StatusOr<peer::TransportFactory> MeshTransportsFor(const ServerConfig& c) {
  if (!MeshTlsRequested(c)) {
    if (c.insecure) return peer::TransportFactory::Plain();
    return absl::InvalidArgumentError(
        "the mesh needs certificates: pass --certs-dir DIR (DIR/ca.crt, node.crt, node.key; "
        "`scripts/certs.sh create-ca` and `create-node` make them) or --tls-ca, --tls-cert and "
        "--tls-key; or --insecure to run it on plain TCP without authentication (development "
        "only)");
  }
  if (c.insecure) {
    return absl::InvalidArgumentError(
        "--insecure runs without TLS: give it, or certificates (--certs-dir, --tls-*), not both");
  }
  absl::StatusOr<peer::TlsFiles> files =
      peer::ResolveTlsFiles(c.certs_dir, c.tls_ca, c.tls_cert, c.tls_key);
  if (!files.ok()) return files.status();
  auto ctx = peer::MakeMeshTlsContext(*files);
  if (!ctx.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("mesh TLS: ", ctx.status().message()));
  }
  return peer::TransportFactory::Tls(*std::move(ctx));
}

}  // namespace meshkv
