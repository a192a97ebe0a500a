// ClusterService: meshkv.v1.Cluster, what one node knows about itself and
// its neighbours (the CLI's `status`).
//
// Thread-safe. Status() reads a snapshot from the mesh's thread, which
// answers within microseconds.
#ifndef MESHKV_SERVER_CLUSTER_SERVICE_H_
#define MESHKV_SERVER_CLUSTER_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "meshkv/v1/cluster.grpc.pb.h"
#include "peer/core/mesh_types.h"
#include "server/grpc_credentials.h"
#include "server/node.h"

namespace meshkv {

class ClusterService final : public meshkv::v1::Cluster::CallbackService {
 public:
  struct Identity {
    std::string node_id;
    std::string advertise_addr;
    std::string cluster;
    bool leasing = true;
    bool mesh_insecure = false;         // --insecure
    std::vector<std::string> warnings;  // MeshSecurityWarnings
  };
  // Status needs read access (`auth` must outlive the service).
  ClusterService(Identity identity, Node* node, std::function<peer::MeshSnapshot()> mesh,
                 const ClientAuthorizer* auth)
      : identity_(std::move(identity)), node_(node), mesh_(std::move(mesh)), auth_(auth) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const meshkv::v1::StatusRequest* req,
                                   meshkv::v1::StatusResponse* resp) override;

 private:
  const Identity identity_;
  Node* const node_;  // Not owned.
  const std::function<peer::MeshSnapshot()> mesh_;
  const ClientAuthorizer* const auth_;  // Not owned.
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_CLUSTER_SERVICE_H_
