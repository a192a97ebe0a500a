// ClientTls: the TLS files a meshkv client (the CLI, the benchmark) dials
// with, named as etcdctl names them: --cacert (the CA that signed the
// servers' certificates), --cert and --key (this client's certificate, for a
// server started with --client-ca), or MESHKV_CACERT, MESHKV_CERT and
// MESHKV_KEY for those not given.
//
//   ClientTls tls = ClientTls::WithEnvironment({flag_cacert, flag_cert, flag_key});
//   absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = tls.Credentials();
//   if (!creds.ok()) ...                    // names the file or the missing half
//   auto channel = grpc::CreateChannel(addr, *creds);
//
// None of the three: plaintext (a server run with --insecure). Any of them:
// TLS, verifying the server against --cacert (the system's roots without
// it). A value type; Load() and Credentials() read the files each time.
#ifndef MESHKV_CLIENTS_TLS_CLIENT_TLS_H_
#define MESHKV_CLIENTS_TLS_CLIENT_TLS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"

namespace meshkv {

struct ClientTls {
  std::string cacert;  // PEM file
  std::string cert;    // PEM file
  std::string key;     // PEM file

  // `flags` with MESHKV_CACERT / MESHKV_CERT / MESHKV_KEY filling the empty
  // fields.
  static ClientTls WithEnvironment(ClientTls flags);

  bool enabled() const { return !cacert.empty() || !cert.empty() || !key.empty(); }
  // The files' contents for grpc::SslCredentials; nullopt when !enabled()
  // (plaintext). INVALID_ARGUMENT naming the flag for a file that cannot be
  // read, or --cert without --key (or the reverse). Does not start gRPC (a
  // caller may have to block signals before its threads exist).
  absl::StatusOr<std::optional<grpc::SslCredentialsOptions>> Load() const;
  // Load()'s, as credentials (plaintext's when !enabled()).
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials() const;
};

}  // namespace meshkv

#endif  // MESHKV_CLIENTS_TLS_CLIENT_TLS_H_
