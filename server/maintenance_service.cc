#include "server/maintenance_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "server/convert.h"
#include "server/orphaned_leases.h"
#include "server/snapshot_stream.h"

namespace meshkv {
namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx, const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

// A stream refused before it starts.
template <typename Base>
class Refused final : public Base {
 public:
  explicit Refused(const absl::Status& s) { this->Finish(ToGrpcStatus(s)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* MaintenanceService::ReleaseLeases(
    grpc::CallbackServerContext* ctx, const meshkv::v1::ReleaseLeasesRequest* req,
    meshkv::v1::ReleaseLeasesResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, Access::kAdmin); !s.ok()) return Finish(ctx, s);
  // A node still connected is alive: releasing it takes keys from a node
  // that will keep writing them as their owner believes it may.
  if (!req->force() && IsConnected(mesh_(), req->node_id())) {
    return Finish(ctx, absl::FailedPreconditionError(absl::StrCat(
                           "node \"", absl::CHexEscape(req->node_id()),
                           "\" is connected to this node; release the leases of a node that has "
                           "left, or pass force to release them anyway")));
  }
  absl::StatusOr<LeaseReleaseResult> r = node_->ReleaseLeases(req->node_id());
  if (!r.ok()) return Finish(ctx, r.status());
  resp->set_released_before_hlc(r->before_hlc);
  resp->set_keys(r->keys);
  Log(LogLevel::kWarning, "leases released",
      {{"node", absl::CHexEscape(req->node_id())},
       {"keys", absl::StrCat(r->keys)},
       {"force", req->force() ? "true" : "false"}});
  return Finish(ctx, absl::OkStatus());
}

grpc::ServerWriteReactor<meshkv::v1::SnapshotResponse>* MaintenanceService::Snapshot(
    grpc::CallbackServerContext* ctx, const meshkv::v1::SnapshotRequest*) {
  if (absl::Status s = auth_->Check(*ctx, Access::kAdmin); !s.ok()) {
    return new Refused<grpc::ServerWriteReactor<meshkv::v1::SnapshotResponse>>(s);
  }
  const StoreStats stats = node_->store().Stats();
  meshkv::v1::SnapshotHeader header;
  header.set_node_id(identity_.node_id);
  header.set_cluster(identity_.cluster);
  header.set_leasing(identity_.leasing);
  header.set_revision(stats.revision);
  header.set_created_ms(absl::ToUnixMillis(absl::Now()));
  header.set_keys(stats.keys);
  return new SnapshotStream(node_, std::move(header));
}

grpc::ServerReadReactor<meshkv::v1::RestoreRequest>* MaintenanceService::Restore(
    grpc::CallbackServerContext* ctx, meshkv::v1::RestoreResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, Access::kAdmin); !s.ok()) {
    return new Refused<grpc::ServerReadReactor<meshkv::v1::RestoreRequest>>(s);
  }
  // As for writes: before its first sync a node does not know what it
  // would merge the snapshot with.
  if (!node_->synced()) {
    return new Refused<grpc::ServerReadReactor<meshkv::v1::RestoreRequest>>(
        absl::UnavailableError("node is still syncing with its peers; restore once it is SERVING"));
  }
  return new RestoreStream(node_, resp);
}

}  // namespace meshkv
