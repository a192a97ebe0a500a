// TLS and client roles on the gRPC port.
//
// The server presents its node certificate (--certs-dir, or --tls-cert
// --tls-key). With --client-ca, clients authenticate with certificates
// signed by that CA, and each client's certificate CN picks a role from the
// role table (--client-roles "dashboard=read-only,app=read-write"):
//
//   read-only    Get, List, Watch, Cluster.Status, server reflection
//                (checked by service_access.h: gRPC owns that service)
//   read-write   also Set, Delete, Update, ApplyDelta, Pop, PopItem
//   admin        also what is reserved to operators (nothing yet)
//
// A certificate whose CN is not in the table has no role and may call
// nothing but Health. Without --client-ca there are no client certificates
// and every client may do everything, as before (etcd without
// --client-cert-auth); TLS still keeps the traffic private and proves the
// server to the client.
//
// Health and probes: the client-certificate policy decides. kRequest (the
// default) lets a client without a certificate finish the handshake and
// reach Health, so that a load balancer's or Kubernetes' gRPC probe needs no
// certificate, while every other RPC answers UNAUTHENTICATED through the
// per-RPC check below (a certificate that is sent is still verified).
// kRequire (--require-client-cert) refuses a client without a certificate
// during the TLS handshake, Health included: probes then present one (a
// node's own node.crt works: it is signed by the cluster CA and carries the
// clientAuth usage; CN "node" needs no role for Health).
//
//   auto creds = MakeGrpcServerCredentials(options);        // StatusOr
//   builder.AddListeningPort(addr, *creds, &port);
//   ClientAuthorizer auth(options.client_ca_file.empty() ? ClientAuth::kOff
//                                                        : ClientAuth::kOn, roles);
//   // in a KeyValue handler:
//   if (absl::Status s = auth.Check(*context, Access::kWrite); !s.ok())
//     reactor->Finish(ToGrpcStatus(s));                     // PERMISSION_DENIED
//
// Thread safety: everything here is immutable after construction; a
// ClientAuthorizer may be shared by every RPC handler.
#ifndef MESHKV_SERVER_GRPC_CREDENTIALS_H_
#define MESHKV_SERVER_GRPC_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"
#include "peer/asio/tls_context.h"

namespace meshkv {

// What the TLS handshake asks of a client when client certificates are on.
enum class ClientCertPolicy {
  kRequire,  // no certificate, no connection (Health included)
  kRequest,  // a certificate is verified if sent; without one only Health answers
};

struct GrpcTlsOptions {
  // The server's certificate and key; tls.ca_file is not used for clients.
  peer::TlsFiles tls;
  // --client-ca: the CA that signs client certificates; empty: none asked.
  std::string client_ca_file;
  ClientCertPolicy policy = ClientCertPolicy::kRequest;
};

// grpc::SslServerCredentials for `options`, after checking the files as the
// mesh does (readable, key matching, chaining to tls.ca_file, not expired:
// INVALID_ARGUMENT naming the file). TLS 1.2 or newer (gRPC's floor).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeGrpcServerCredentials(
    const GrpcTlsOptions& options);

// A client's role; ordered: each role may do what the ones before it may.
enum class ClientRole { kNone, kReadOnly, kReadWrite, kAdmin };
// "none", "read-only", "read-write", "admin"; ParseClientRole reads them.
absl::string_view ClientRoleName(ClientRole role);
absl::StatusOr<ClientRole> ParseClientRole(absl::string_view name);

// What an RPC needs.
enum class Access { kHealth, kRead, kWrite, kAdmin };
// The access each meshkv.v1.KeyValue method needs, by method name ("Set");
// kAdmin for a name it does not know, so that a new RPC is closed until
// listed.
Access KeyValueMethodAccess(absl::string_view method);

// The decision: OK, or PERMISSION_DENIED naming the role and what it lacks
// (UNAUTHENTICATED for kNone when `authenticated` is false: no certificate).
absl::Status Authorize(ClientRole role, Access access, bool authenticated = true);

// The role table: client certificate CN -> role.
class ClientRoleTable {
 public:
  ClientRoleTable() = default;
  // "name=role,name=role" (--client-roles); INVALID_ARGUMENT on an empty
  // name, an unknown role or a name given twice.
  static absl::StatusOr<ClientRoleTable> Parse(absl::string_view spec);
  void Set(std::string name, ClientRole role) { roles_[std::move(name)] = role; }
  // kNone for a name not in the table.
  ClientRole Lookup(absl::string_view name) const;
  size_t size() const { return roles_.size(); }

 private:
  absl::flat_hash_map<std::string, ClientRole> roles_;
};

enum class ClientAuth { kOff, kOn };

// Maps a call's peer to its role and checks an access. Takes
// grpc::ServerContextBase so that the callback API's CallbackServerContext
// and the sync API's ServerContext both fit.
class ClientAuthorizer {
 public:
  ClientAuthorizer(ClientAuth auth, ClientRoleTable roles)
      : auth_(auth), roles_(std::move(roles)) {}

  // kAdmin when client authentication is off; else the role of the verified
  // certificate's CN, kNone without one.
  ClientRole RoleOf(const grpc::ServerContextBase& context) const;
  // The CN of the call's verified client certificate; empty when none.
  static std::string CommonNameOf(const grpc::ServerContextBase& context);
  // Authorize(RoleOf(context), access), the message naming the client.
  absl::Status Check(const grpc::ServerContextBase& context, Access access) const;

 private:
  // Constant after construction.
  const ClientAuth auth_;
  const ClientRoleTable roles_;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_GRPC_CREDENTIALS_H_
