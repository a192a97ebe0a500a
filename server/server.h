// MeshkvServer: a running meshkv node: the Node, its gRPC server (KeyValue,
// health, reflection), its mesh driver and its metrics.
//
// Start-up order: the mesh binds first (its port may name the node), then
// the store, the metrics, gRPC (health NOT_SERVING), and the mesh, which
// turns health to SERVING once the first sync has completed.
//
//   auto server = MeshkvServer::Start(config);
//   ... server->grpc_address() ...
//   server->Shutdown();  // SIGTERM: finish RPCs, end watches, flush, stop
//
// Thread-safe. Shutdown() must be called before destruction.
#ifndef MESHKV_SERVER_SERVER_H_
#define MESHKV_SERVER_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "grpcpp/server.h"
#include "peer/asio/mesh_driver.h"
#include "server/cluster_service.h"
#include "server/config.h"
#include "server/kv_service.h"
#include "server/metrics.h"
#include "server/node.h"

namespace meshkv {

class MeshkvServer {
 public:
  static absl::StatusOr<std::unique_ptr<MeshkvServer>> Start(const ServerConfig& config,
                                                             const Clock* clock = Clock::Real());
  ~MeshkvServer();

  // Health NOT_SERVING, watches end with UNAVAILABLE, new RPCs refused,
  // in-flight RPCs finish (within the configured grace), then the mesh
  // sends every acknowledged write and a goodbye to each peer. Idempotent.
  void Shutdown();

  const std::string& node_id() const { return node_id_; }
  const std::string& advertise_addr() const { return advertise_addr_; }
  int mesh_port() const { return mesh_->port(); }
  peer::MeshDriver& mesh() { return *mesh_; }
  // Where the gRPC server listens, with the port it actually bound.
  std::string grpc_address() const;
  int grpc_port() const { return grpc_port_; }
  Node& node() { return *node_; }
  Metrics& metrics() { return *metrics_; }
  int metrics_port() const { return metrics_->port(); }

 private:
  MeshkvServer(const ServerConfig& config, const Clock* clock, std::string node_id,
               std::string advertise_addr, std::unique_ptr<peer::MeshDriver> mesh);
  absl::Status StartGrpc();
  void StartMesh(const Clock* clock);
  absl::Status WriteInfoFile() const;
  void SetServing(bool serving);
  // The first sync is done: accept writes, report SERVING. Once.
  void MarkSynced();
  // Runs Store::Maintain every config_.maintain_every until stopped.
  void MaintainLoop();

  const ServerConfig config_;
  const std::string node_id_;
  const std::string advertise_addr_;
  std::unique_ptr<peer::MeshDriver> mesh_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<KeyValueService> kv_service_;
  std::unique_ptr<ClusterService> cluster_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;
  bool shut_down_ = false;
  absl::Mutex maintain_mu_;
  bool stop_maintaining_ ABSL_GUARDED_BY(maintain_mu_) = false;
  std::thread maintainer_;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_SERVER_H_
