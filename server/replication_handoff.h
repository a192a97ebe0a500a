// ReplicationHandoff: hands this node's own writes to the mesh.
//
// A commit observer of the store: it collects the records of each local
// operation (an Update of several keys is several commits) and, at the
// operation's last commit, hands them to `broadcast` in one batch, so the
// mesh sends one write frame per operation. It takes each record from the
// store (OnLocalWriteReleased) rather than copying the commit's `change`:
// a copy was six more allocations per Set. Writes merged from peers are not
// handed off: the mesh forwards those itself.
//
//   ReplicationHandoff handoff([driver](auto records) { driver->Broadcast(std::move(records)); });
//   Node node(options, env, {&handoff});
//
// Concurrency: OnCommit runs under the store's write lock, which serialises
// it; `broadcast` is called there too, so it must be quick and must not call
// back into the store (MeshDriver::Broadcast only queues).
#ifndef MESHKV_SERVER_REPLICATION_HANDOFF_H_
#define MESHKV_SERVER_REPLICATION_HANDOFF_H_

#include <functional>
#include <utility>
#include <vector>

#include "meshkv/mesh/v1/record.pb.h"
#include "store/commit_observer.h"

namespace meshkv {

class ReplicationHandoff final : public CommitObserver {
 public:
  using Broadcast = std::function<void(std::vector<meshkv::mesh::v1::Record>)>;

  explicit ReplicationHandoff(Broadcast broadcast) : broadcast_(std::move(broadcast)) {}

  void OnCommit(const Commit&) override {}  // local writes come below
  void OnLocalWriteReleased(meshkv::mesh::v1::Record* write, bool last_of_operation) override {
    pending_.push_back(std::move(*write));
    if (last_of_operation) broadcast_(std::exchange(pending_, {}));
  }

 private:
  const Broadcast broadcast_;
  // Records of the operation being committed; guarded by the store's lock.
  std::vector<meshkv::mesh::v1::Record> pending_;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_REPLICATION_HANDOFF_H_
