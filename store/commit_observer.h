// CommitObserver: what the store tells the rest of the node about each change
// it commits. This is the one way changes leave the store: the watch hub, the
// replication hand-off, metrics (and next, the durability log) subscribe to
// it, and nothing notifies them from outside (etcd notifies its watchers
// inside the store's write transaction the same way).
//
// The store calls every observer, in the order given at its construction,
// for every change it commits (a local write, a write flooded by a peer, a
// record brought by anti-entropy), once, in revision order, under its write
// lock. An observer therefore sees a total order, but must be quick, must not
// block, and must not call back into the store.
//
//   class Counter final : public CommitObserver {
//     void OnCommit(const Commit& c) override { ++commits_[int(c.source)]; }
//   };
//   Store store(options, clock, {&watch_hub, &handoff, &counter});
#ifndef MESHKV_STORE_COMMIT_OBSERVER_H_
#define MESHKV_STORE_COMMIT_OBSERVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "meshkv/mesh/v1/record.pb.h"
#include "store/record.h"
#include "store/version.h"

namespace meshkv {

// Where a committed change came from.
enum class CommitSource : uint8_t {
  kLocal,        // an operation of this node (Set, Delete, ...)
  kFlooded,      // a write another node made, flooded to this one
  kAntiEntropy,  // a record a sync session brought, perhaps long after
  kExpired,      // this node swept a key whose expiry came (never replicated:
                 // every node sweeps its own copy)
};
const char* CommitSourceName(CommitSource source);

struct Commit {
  CommitSource source;
  uint64_t revision;     // the store's revision after this change
  const RecordPtr& next;  // the key's state now (a tombstone for a delete)
  const RecordPtr& prev;  // its state before; null when the store had none
  // The write as it entered: built by this node for a local operation (what
  // other nodes must merge), or as received from a peer.
  const meshkv::mesh::v1::Record& change;
  // False on all but the last change of one local operation (an Update of
  // several keys); true for every merged record. Observers that batch (the
  // replication hand-off) flush here.
  bool last_of_operation;
  // Names the origins of next's and prev's versions (store/wire_convert.h's
  // RecordToWire writes a record's whole state with it).
  const OriginTable& origins;
};

class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // Under the store's write lock; see the contract above.
  virtual void OnCommit(const Commit& commit) = 0;
  // A local write, after every observer's OnCommit of it, under the same
  // lock: its record (the commit's `change`), which the store drops next.
  // The observer that keeps local writes (the replication hand-off) moves it
  // from `*write` here instead of copying `change` (a copy is six
  // allocations per write); only one observer of a store may.
  // `last_of_operation` is the commit's.
  virtual void OnLocalWriteReleased(meshkv::mesh::v1::Record* write, bool last_of_operation) {
    (void)write;
    (void)last_of_operation;
  }
  // Tombstones past the retention that the store has dropped (Maintain),
  // under its write lock, ordered with the commits. Watchers never see
  // them: they were already deletes.
  virtual void OnTombstonesCollected(const std::vector<std::string>& keys) { (void)keys; }
};

}  // namespace meshkv

#endif  // MESHKV_STORE_COMMIT_OBSERVER_H_
