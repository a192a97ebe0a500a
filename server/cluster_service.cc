#include "server/cluster_service.h"

#include "absl/time/clock.h"
#include "common/version.h"
#include "server/convert.h"
#include "server/orphaned_leases.h"

namespace meshkv {

grpc::ServerUnaryReactor* ClusterService::Status(grpc::CallbackServerContext* ctx,
                                                 const meshkv::v1::StatusRequest*,
                                                 meshkv::v1::StatusResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (absl::Status s = auth_->Check(*ctx, Access::kRead); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  const StoreStats stats = node_->store().Stats();
  const peer::MeshSnapshot mesh = mesh_();
  resp->set_node_id(identity_.node_id);
  resp->set_advertise_addr(identity_.advertise_addr);
  resp->set_cluster(identity_.cluster);
  resp->set_leasing(identity_.leasing);
  resp->set_version(kMeshkvVersion);
  resp->set_revision(stats.revision);
  resp->set_keys(stats.keys);
  resp->set_data_bytes(stats.bytes);
  resp->set_max_data_bytes(node_->store().options().max_data_bytes);
  resp->set_synced(node_->synced());
  resp->set_mesh_insecure(identity_.mesh_insecure);
  for (const std::string& w : identity_.warnings) resp->add_warnings(w);
  const OrphanedLeases orphaned = FindOrphanedLeases(node_->store(), mesh);
  resp->set_orphaned_lease_keys(static_cast<uint64_t>(orphaned.keys));
  for (const LeaseHolder& h : orphaned.nodes) {
    meshkv::v1::LeaseHolder* out = resp->add_orphaned_lease_holders();
    out->set_node_id(h.node_id);
    out->set_keys(static_cast<uint64_t>(h.keys));
    out->set_last_expires_ms(h.last_expires_ms);
  }
  for (const peer::PeerStatus& p : mesh.peers) {
    meshkv::v1::PeerStatus* out = resp->add_peers();
    out->set_node_id(p.node_id);
    out->set_address(p.addr);
    out->set_state(p.state);
    out->set_outbound(p.outbound);
    out->set_rtt_ms(p.rtt_ms);
    // The mesh keeps monotonic time; clients want the wall clock.
    if (p.connected_since_ms != 0) {
      out->set_connected_since_ms(absl::ToUnixMillis(absl::Now()) -
                                  (mesh.taken_ms - p.connected_since_ms));
    }
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace meshkv
