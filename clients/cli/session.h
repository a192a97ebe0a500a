// Session: what every command needs to talk to one node and report the
// outcome -- the endpoint that serves and its stubs, the per-request
// deadline, the output format and streams, and the mapping from RPC status
// to message and exit code.
//
//   Session session(inv.global, tls, std::cout, std::cerr, isatty(STDOUT_FILENO));
//   if (int rc = session.Connect(); rc != kExitOk) return rc;  // no endpoint answered
//   grpc::ClientContext ctx;
//   session.SetDeadline(&ctx);
//   grpc::Status s = session.kv().Get(&ctx, req, &resp);
//   if (!s.ok()) return session.Fail(s);   // "meshkv: CODE: message", exit 1, 3, 4 or 5
//
// Connect() dials the endpoints in order, each for at most --dial-timeout,
// and keeps the first that is ready: a dead endpoint is skipped, one that
// refuses connections at once. Nothing starts gRPC before it, so a command
// can prepare (e.g. block signals) before gRPC starts its threads. After
// Connect, every call goes to that one endpoint (no failover mid-command: a
// watch or a write is not silently moved). Single-threaded use only.
#ifndef MESHKV_CLIENTS_CLI_SESSION_H_
#define MESHKV_CLIENTS_CLI_SESSION_H_

#include <memory>
#include <optional>
#include <ostream>

#include "absl/strings/string_view.h"
#include "clients/cli/args.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"
#include "meshkv/v1/cluster.grpc.pb.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "meshkv/v1/maintenance.grpc.pb.h"

namespace meshkv::cli {

class Session {
 public:
  // `out_is_terminal`: whether `out` is a terminal (decides a cosmetic
  // trailing newline).
  // `tls`: options.tls loaded (ClientTls::Load); nullopt: plaintext.
  Session(GlobalOptions options, std::optional<grpc::SslCredentialsOptions> tls, std::ostream& out,
          std::ostream& err, bool out_is_terminal = false);

  // Dials the endpoints (above). kExitOk, or prints why none answered and
  // returns kExitUnreachable. Idempotent.
  int Connect();
  // The stubs of the endpoint Connect() chose; Connect() must have succeeded.
  meshkv::v1::KeyValue::Stub& kv();
  grpc::health::v1::Health::Stub& health();
  meshkv::v1::Cluster::Stub& cluster();
  meshkv::v1::Maintenance::Stub& maintenance();

  // Applies --timeout to one request.
  void SetDeadline(grpc::ClientContext* ctx) const;

  // Prints `meshkv: CODE: message` on stderr and returns the exit code:
  // kExitNotFound for NOT_FOUND, kExitRefused for FAILED_PRECONDITION,
  // kExitUnreachable for UNAVAILABLE, kExitRpcError for anything else.
  // Transport failures (UNAVAILABLE, DEADLINE_EXCEEDED) name the endpoint.
  int Fail(const grpc::Status& status);
  // The same for an outcome the server reports without an error status
  // (e.g. Get with found=false).
  int Fail(grpc::StatusCode code, absl::string_view message);

  OutputFormat output() const { return options_.output; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  bool out_is_terminal() const { return out_is_terminal_; }

 private:
  std::shared_ptr<grpc::Channel> NewChannel(const std::string& endpoint) const;
  void CheckConnected() const;

  const GlobalOptions options_;
  const std::optional<grpc::SslCredentialsOptions> tls_;
  std::ostream& out_;
  std::ostream& err_;
  const bool out_is_terminal_;
  std::string endpoint_;                    // the one that serves, once connected
  std::shared_ptr<grpc::Channel> channel_;  // set by a successful Connect()
  std::unique_ptr<meshkv::v1::KeyValue::Stub> kv_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<meshkv::v1::Cluster::Stub> cluster_;
  std::unique_ptr<meshkv::v1::Maintenance::Stub> maintenance_;
};

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_SESSION_H_
