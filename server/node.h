// Node: one meshkv node: the store, the watchers, and the path every write
// takes through them.
//
//   local write   RPC -> Node::Write(op) -> Store (lease-checked) -> watchers
//                                                                  -> replication sink
//   remote write  mesh -> Node::replica() -> Store (merge) -> watchers
//                                                          -> remote observer
//
// Writes are refused with UNAVAILABLE until the node has finished its first
// sync: before that it does not know the leases it must honour.
//
// Thread-safe.
#ifndef MESHKV_SERVER_NODE_H_
#define MESHKV_SERVER_NODE_H_

#include <atomic>
#include <functional>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "meshkv/mesh/v1/record.pb.h"
#include "peer/core/replica.h"
#include "server/store_replica.h"
#include "server/watch_hub.h"
#include "store/store.h"

namespace meshkv {

class Node {
 public:
  using ReplicationSink = std::function<void(std::vector<meshkv::mesh::v1::Record>)>;
  // Told of every change merged from the mesh (for metrics).
  using RemoteObserver = StoreReplica::OnChange;

  Node(StoreOptions options, const Clock* clock, RemoteObserver observer = nullptr);

  Store& store() { return store_; }
  const Store& store() const { return store_; }
  WatchHub& watches() { return watches_; }

  // Runs a local operation on the store; when it wrote, wakes watchers and
  // hands the written records to the replication sink.
  absl::StatusOr<WriteResult> Write(absl::FunctionRef<absl::StatusOr<WriteResult>(Store&)> op);
  // What the mesh merges remote writes through.
  peer::Replica& replica() { return replica_; }
  // Merges a record from another node, as the mesh would deliver it.
  absl::StatusOr<bool> ApplyRemote(const meshkv::mesh::v1::Record& record) {
    return replica_.Apply(record, peer::ApplySource::kWrite);
  }

  // Where local writes go to be replicated. Set before serving.
  void SetReplicationSink(ReplicationSink sink) { sink_ = std::move(sink); }

  bool synced() const { return synced_.load(); }
  // The first sync has completed; returns whether it had already.
  bool SetSynced() { return synced_.exchange(true); }

 private:
  Store store_;
  WatchHub watches_;
  StoreReplica replica_;
  ReplicationSink sink_;  // set before serving, then constant
  std::atomic<bool> synced_{false};
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_NODE_H_
