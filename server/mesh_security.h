// The mesh's transport from the security flags: mutual TLS whenever
// certificates are given (--certs-dir, or --tls-ca --tls-cert --tls-key),
// plain TCP only with --insecure. The one mapping from ServerConfig's
// security block to what MeshDriver::Bind takes.
//
//   absl::StatusOr<peer::TransportFactory> t = MeshTransportsFor(config);
//   if (!t.ok()) return t.status();   // names the flag or the file at fault
//   auto driver = peer::MeshDriver::Bind(config.mesh_addr, *t);
//
// Pure function of the config and the files it names: thread-safe.
#ifndef MESHKV_SERVER_MESH_SECURITY_H_
#define MESHKV_SERVER_MESH_SECURITY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "peer/asio/transport.h"
#include "server/config.h"

namespace meshkv {

// True when any certificate flag is set.
bool MeshTlsRequested(const ServerConfig& config);

// TLS on the files named (INVALID_ARGUMENT naming a missing flag, or a file
// that cannot be used: unreadable, expired, not from the CA); plain TCP with
// --insecure; INVALID_ARGUMENT for --insecure together with certificates,
// and for neither (saying what to pass): a node never runs without
// authentication unless told to.
absl::StatusOr<peer::TransportFactory> MeshTransportsFor(const ServerConfig& config);

// What the node warns of at start and in Cluster/Status (`meshkv status`):
// with --insecure, that the mesh runs plain TCP, and, louder, when its
// listening address is not loopback, that other hosts can reach it. Empty
// with TLS.
std::vector<std::string> MeshSecurityWarnings(const ServerConfig& config);

}  // namespace meshkv

#endif  // MESHKV_SERVER_MESH_SECURITY_H_
