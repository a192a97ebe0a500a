#include "server/grpc_security.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "peer/asio/tls_context.h"
#include "server/mesh_security.h"

namespace meshkv {

absl::StatusOr<GrpcSecurity> GrpcSecurityFor(const ServerConfig& c) {
  if (c.client_ca.empty()) {
    if (!c.client_roles.empty()) {
      return absl::InvalidArgumentError(
          "--client-roles needs --client-ca: without client certificates there are no names to "
          "give roles to");
    }
    if (c.require_client_cert) {
      return absl::InvalidArgumentError("--require-client-cert needs --client-ca");
    }
  }
  absl::StatusOr<ClientRoleTable> roles = ClientRoleTable::Parse(c.client_roles);
  if (!roles.ok()) return roles.status();

  GrpcSecurity out;
  if (!MeshTlsRequested(c)) {
    if (!c.client_ca.empty()) {
      return absl::InvalidArgumentError(
          "--client-ca needs TLS on the gRPC port: give the node's certificates (--certs-dir, or "
          "--tls-ca --tls-cert --tls-key) instead of --insecure");
    }
    // Plaintext is chosen with --insecure; MeshTransportsFor refuses a
    // config that gives neither.
    out.credentials = grpc::InsecureServerCredentials();
    return out;
  }
  absl::StatusOr<peer::TlsFiles> files =
      peer::ResolveTlsFiles(c.certs_dir, c.tls_ca, c.tls_cert, c.tls_key);
  if (!files.ok()) return files.status();
  GrpcTlsOptions options;
  options.tls = *std::move(files);
  options.client_ca_file = c.client_ca;
  options.policy = c.require_client_cert ? ClientCertPolicy::kRequire : ClientCertPolicy::kRequest;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      MakeGrpcServerCredentials(options);
  if (!creds.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("gRPC TLS: ", creds.status().message()));
  }
  out.credentials = *std::move(creds);
  out.tls = true;
  out.client_auth = c.client_ca.empty() ? ClientAuth::kOff : ClientAuth::kOn;
  out.roles = *std::move(roles);
  return out;
}

}  // namespace meshkv
