#include "server/mesh_security.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/host_port.h"
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

namespace {

// Only this host can reach `host`: a loopback name or address.
bool Loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace

std::vector<std::string> MeshSecurityWarnings(const ServerConfig& c) {
  if (MeshTlsRequested(c) || !c.insecure) return {};
  std::vector<std::string> warnings = {
      "--insecure: the mesh runs plain TCP; any process that reaches the mesh port can join"};
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(c.mesh_addr);
  if (!hp.ok() || !Loopback(hp->first)) {
    warnings.push_back(absl::StrCat(
        "the unauthenticated mesh listens on ", c.mesh_addr,
        ", which other hosts can reach: anyone there can read, change and delete every key; "
        "give the nodes certificates (--certs-dir) or bind --mesh-addr to 127.0.0.1"));
  }
  return warnings;
}

}  // namespace meshkv
