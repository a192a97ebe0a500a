// `health`: grpc.health.v1.Health/Check for the whole server (service ""),
// as Docker's HEALTHCHECK and Kubernetes exec probes use it.
#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"

namespace meshkv::cli {

int RunHealth(const Invocation&, Session& session) {
  grpc::health::v1::HealthCheckRequest req;  // service "": the server as a whole
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.health().Check(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  session.out() << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status()) << "\n";
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk : kExitNotFound;
}

}  // namespace meshkv::cli
