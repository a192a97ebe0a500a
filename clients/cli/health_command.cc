// `health`: grpc.health.v1.Health/Check for the whole server (service ""),
// as Docker's HEALTHCHECK and Kubernetes exec probes use it.
#include <string>

#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"

namespace meshkv::cli {

int RunHealth(const Invocation&, Session& session) {
  grpc::health::v1::HealthCheckRequest req;  // service "": the server as a whole
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.health().Check(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  const std::string status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
  PrintResult(
      session, resp, [&] { return status + "\n"; },
      [&] { return FormatTable({"STATUS"}, {{status}}); });
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk : kExitNotFound;
}

}  // namespace meshkv::cli
