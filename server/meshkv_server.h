// MeshkvServer: a running meshkv node: the Node, its gRPC server (KeyValue,
// health, reflection), its mesh driver and its metrics.
//
// Start-up order: the mesh binds first (its port may name the node), then
// the data directory opens (--data-dir), the store is built and loads what
// is on disk, then the metrics, gRPC (health NOT_SERVING), and the mesh,
// which turns health to SERVING once the first sync has completed.
//
//   auto server = MeshkvServer::Start(config);
//   ... server->grpc_address() ...
//   server->Shutdown();  // SIGTERM: finish RPCs, end watches, flush, stop
//
// Data flows one way: the mesh binds first, so that the replication hand-off
// (local writes -> MeshDriver::Broadcast) and the commit metrics exist before
// the Node whose store they observe; the driver then merges remote writes
// through the Node (its peer::Replica).
//
// Thread-safe. Shutdown() must be called before destruction.
#ifndef MESHKV_SERVER_MESHKV_SERVER_H_
#define MESHKV_SERVER_MESHKV_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "grpcpp/server.h"
#include "peer/asio/mesh_driver.h"
#include "server/cluster_service.h"
#include "server/commit_metrics.h"
#include "server/config.h"
#include "server/durability_log.h"
#include "server/grpc_credentials.h"
#include "server/grpc_security.h"
#include "server/health_service.h"
#include "server/kv_service.h"
#include "server/maintenance_service.h"
#include "server/metrics.h"
#include "server/node.h"
#include "server/replication_handoff.h"
#include "server/write_concern.h"
#include "storage/data_dir.h"

namespace meshkv {

class MeshkvServer {
 public:
  // `env` (the clock and the worker that wakes watchers) must outlive the
  // server.
  static absl::StatusOr<std::unique_ptr<MeshkvServer>> Start(const ServerConfig& config,
                                                             Env* env = Env::Default());
  ~MeshkvServer();

  // Health NOT_SERVING, watches end with UNAVAILABLE, new RPCs refused,
  // in-flight RPCs finish (within the configured grace), then the mesh
  // sends every acknowledged write and a goodbye to each peer. Idempotent;
  // a concurrent call returns once the first has finished.
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
  MeshkvServer(const ServerConfig& config, Env* env, std::string node_id,
               std::string advertise_addr, std::unique_ptr<peer::MeshDriver> mesh,
               std::unique_ptr<storage::DataDir> data_dir, GrpcSecurity grpc_security);
  absl::Status StartGrpc();
  absl::Status StartMesh();
  // Records in the data directory how far this life's origin sequence
  // numbers may reach, so that the next life starts above them.
  absl::Status ReserveOriginSeqs();
  absl::Status WriteInfoFile() const;
  void SetServing(bool serving);
  // The first sync is done: accept writes, report SERVING. Once.
  void MarkSynced();
  // Runs Store::Maintain every config_.maintain_every until stopped, and
  // records in the data directory when the node is in sync.
  void MaintainLoop();
  void MarkInSyncIfDue(absl::Time now, absl::Time* last_mark);
  // Gives freed heap back to the system once many watch streams have
  // closed (see the .cc). `peak`: the most open since the last trim, at
  // `last`.
  void TrimHeapAfterStreamsClose(absl::Time now, size_t* peak, absl::Time* last);

  // Constant after construction (the threads they start aside). Declared in
  // the order they are built: each may use those above it.
  const ServerConfig config_;
  Env* const env_;  // Not owned.
  const std::string node_id_;
  const std::string advertise_addr_;
  std::unique_ptr<peer::MeshDriver> mesh_;
  std::unique_ptr<storage::DataDir> data_dir_;  // null: in memory only
  // This life's incarnation: its origin seqs start at SeqTracker::Base of it.
  const int64_t incarnation_ms_;
  std::unique_ptr<DurabilityLog> durability_;   // observes node_'s store; with data_dir_
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<WriteConcern> concern_;        // used by node_, fed by mesh_
  std::unique_ptr<ReplicationHandoff> handoff_;  // observes node_'s store
  std::unique_ptr<CommitMetrics> commit_metrics_;  // observes node_'s store
  std::unique_ptr<Node> node_;
  const std::shared_ptr<grpc::ServerCredentials> grpc_credentials_;
  const ClientAuthorizer client_auth_;  // every handler asks it first
  std::unique_ptr<KeyValueService> kv_service_;
  std::unique_ptr<ClusterService> cluster_service_;
  HealthService health_;
  std::unique_ptr<MaintenanceService> maintenance_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;

  absl::Mutex shutdown_mu_;  // held for the whole of Shutdown()
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  absl::Mutex maintain_mu_;
  bool stop_maintaining_ ABSL_GUARDED_BY(maintain_mu_) = false;
  std::thread maintainer_;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_MESHKV_SERVER_H_
