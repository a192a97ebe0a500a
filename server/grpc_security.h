// The gRPC port's security from the security flags: TLS with the node's
// certificate whenever the mesh runs TLS (plaintext only with --insecure),
// client certificates with --client-ca, and the role table. The one mapping
// from ServerConfig's security block to what the gRPC server and its
// handlers take (server/mesh_security.h is the mesh's).
//
//   absl::StatusOr<GrpcSecurity> s = GrpcSecurityFor(config);
//   if (!s.ok()) return s.status();         // names the flag or the file
//   builder.AddListeningPort(addr, s->credentials, &port);
//   ClientAuthorizer auth(s->client_auth, s->roles);
//
// Pure function of the config and the files it names: thread-safe.
#ifndef MESHKV_SERVER_GRPC_SECURITY_H_
#define MESHKV_SERVER_GRPC_SECURITY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "server/config.h"
#include "server/grpc_credentials.h"

namespace meshkv {

struct GrpcSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  bool tls = false;
  ClientAuth client_auth = ClientAuth::kOff;
  ClientRoleTable roles;
};

// INVALID_ARGUMENT for files that cannot be used (as the mesh checks them),
// an unparsable --client-roles, --client-roles or --require-client-cert
// without --client-ca, and --client-ca with --insecure.
absl::StatusOr<GrpcSecurity> GrpcSecurityFor(const ServerConfig& config);

}  // namespace meshkv

#endif  // MESHKV_SERVER_GRPC_SECURITY_H_
