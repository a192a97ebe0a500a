// HealthService: grpc.health.v1.Health with a cap on Watch streams.
//
// gRPC's built-in health service serves Watch to anyone, without limit, and
// Health must stay reachable without a client certificate (probes). So any
// stranger who reaches the gRPC port could hold an unbounded number of
// streams open. This one answers like the built-in service (Check: the
// status, NOT_FOUND for an unknown service; Watch: the status now and on
// every change, SERVICE_UNKNOWN until the service is known) and refuses a
// Watch past `max_watches` with RESOURCE_EXHAUSTED.
//
//   HealthService health(/*max_watches=*/100);
//   builder.RegisterService(&health);
//   health.SetServing("", true);
//   ...
//   health.Shutdown();  // NOT_SERVING to every watcher, then their streams end
//
// Thread-safe. Must outlive the gRPC server that serves it.
#ifndef MESHKV_SERVER_HEALTH_SERVICE_H_
#define MESHKV_SERVER_HEALTH_SERVICE_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/stream_slots.h"

namespace meshkv {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  explicit HealthService(size_t max_watches);
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // `service` is a full gRPC service name, or "" for the node as a whole.
  // Ignored after Shutdown().
  void SetServing(const std::string& service, bool serving) ABSL_LOCKS_EXCLUDED(mu_);

  // Every service NOT_SERVING from now on; each open Watch receives it and
  // then ends (OK), so the server's shutdown does not wait for probes.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  size_t open_watches() const { return slots_.in_use(); }

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* req,
                                  grpc::health::v1::HealthCheckResponse* resp) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req) override;

 private:
  class WatchStream;

  ServingStatus StatusLocked(const std::string& service) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Forget(WatchStream* stream) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ServingStatus> status_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<WatchStream*> streams_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  StreamSlots slots_;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_HEALTH_SERVICE_H_
