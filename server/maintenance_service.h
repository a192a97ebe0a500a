// MaintenanceService: meshkv.v1.Maintenance, operations on a node's state as
// a whole (proto/meshkv/v1/maintenance.proto); every RPC needs the admin
// role.
//
//   ReleaseLeases  ends the leases of a node that has left (Store::ReleaseLeases),
//                  refused while the mesh is connected to it unless forced.
//   Snapshot       streams every record (server/snapshot_stream.h).
//   Restore        merges a stream of records, once it is complete.
//
// Thread-safe: handlers run on gRPC's threads and touch only the node (which
// is thread-safe) and mesh snapshots.
#ifndef MESHKV_SERVER_MAINTENANCE_SERVICE_H_
#define MESHKV_SERVER_MAINTENANCE_SERVICE_H_

#include <functional>
#include <string>

#include "meshkv/v1/maintenance.grpc.pb.h"
#include "peer/core/mesh_types.h"
#include "server/grpc_credentials.h"
#include "server/node.h"

namespace meshkv {

class MaintenanceService final : public meshkv::v1::Maintenance::CallbackService {
 public:
  // What a snapshot's header says of this node.
  struct Identity {
    std::string node_id;
    std::string cluster;
    bool leasing = true;
  };
  // `node` and `auth` are not owned and must outlive the service; `mesh`
  // returns the mesh's current snapshot.
  MaintenanceService(Identity identity, Node* node, std::function<peer::MeshSnapshot()> mesh,
                     const ClientAuthorizer* auth)
      : identity_(std::move(identity)), node_(node), mesh_(std::move(mesh)), auth_(auth) {}

  grpc::ServerUnaryReactor* ReleaseLeases(grpc::CallbackServerContext* ctx,
                                          const meshkv::v1::ReleaseLeasesRequest* req,
                                          meshkv::v1::ReleaseLeasesResponse* resp) override;
  grpc::ServerWriteReactor<meshkv::v1::SnapshotResponse>* Snapshot(
      grpc::CallbackServerContext* ctx, const meshkv::v1::SnapshotRequest* req) override;
  grpc::ServerReadReactor<meshkv::v1::RestoreRequest>* Restore(
      grpc::CallbackServerContext* ctx, meshkv::v1::RestoreResponse* resp) override;

 private:
  const Identity identity_;
  Node* const node_;  // Not owned.
  const std::function<peer::MeshSnapshot()> mesh_;
  const ClientAuthorizer* const auth_;  // Not owned.
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_MAINTENANCE_SERVICE_H_
