// Node: one meshkv node's data: the store, its watchers, and the typed
// operations every write enters by.
//
// Data flows one way. A local write enters through an operation here, a
// remote one through the peer::Replica interface the mesh calls; both reach
// the store, which commits and tells its observers, in revision order:
//
//   KeyValueService::Set -> Node::Set -> Store::Set --+
//   mesh (MeshDriver)   -> Node::Apply -> Store::Merge -+-> WatchHub (wakes streams)
//                                                     +-> the observers given here:
//                                                         replication hand-off
//                                                         (local writes -> mesh),
//                                                         commit metrics, ...
//
// Writes are refused with UNAVAILABLE until the node has finished its first
// sync: before that it does not know the leases it must honour.
//
// A write may ask for a write concern (ConcernRequest: min_replicas other
// nodes must hold it): with a WriteConcern given at construction, `done`
// then runs once they do, or with the concern's error (the change stays
// committed); without one, min_replicas > 0 is refused with UNAVAILABLE.
//
// Thread-safe. The mesh calls the Replica methods on its own thread.
#ifndef MESHKV_SERVER_NODE_H_
#define MESHKV_SERVER_NODE_H_

#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/env.h"
#include "meshkv/mesh/v1/record.pb.h"
#include "peer/core/replica.h"
#include "server/durability_log.h"
#include "server/watch_hub.h"
#include "server/write_concern.h"
#include "store/commit_observer.h"
#include "store/store.h"
#include "store/value.h"

namespace meshkv {

class Node final : public peer::Replica {
 public:
  // `env` (its clock stamps writes; its worker wakes watchers),
  // `observers` and `durability` are not owned and must outlive the node.
  // The watch hub is told of each commit first, then `durability`, then
  // `observers` in order. Without `durability` the node keeps nothing on
  // disk. `concern` (not owned; may be null) makes writes wait for replicas.
  Node(StoreOptions options, Env* env, std::vector<CommitObserver*> observers = {},
       DurabilityLog* durability = nullptr, WriteConcern* concern = nullptr);

  // --- Local operations: the Store's, refused until the first sync -------
  // Each commits at once (its arguments are not kept) and calls `done` with
  // the result once its change is durable per --fsync, or with the error
  // that failed it (on disk: the change is in memory only, outcome
  // unknown). Without a durability log, or when the store refuses the
  // write, `done` runs before the call returns; otherwise, usually, later,
  // on the durability log's thread: it must be quick and must not block.
  using WriteDone = absl::AnyInvocable<void(absl::StatusOr<WriteResult>) &&>;
  // Preconditions and times to live are the store's (store/store.h); the
  // write concern is server/write_concern.h's.
  void Set(absl::string_view key, const ValueView& value, const Precondition& pre,
           absl::Duration ttl, WriteDone done, const ConcernRequest& concern = {});
  void Delete(absl::string_view key, const Precondition& pre, WriteDone done,
              const ConcernRequest& concern = {});
  void Update(const KeyValuesView& items, const std::vector<Precondition>& pres,
              const std::vector<absl::Duration>& ttls, WriteDone done,
              const ConcernRequest& concern = {});
  void ApplyDelta(absl::string_view key, const FieldsView& delta, const Precondition& pre,
                  const FieldNamesView& remove, absl::Duration ttl, WriteDone done,
                  const ConcernRequest& concern = {});
  void Pop(absl::string_view key, WriteDone done, const ConcernRequest& concern = {});
  void PopItem(WriteDone done, const ConcernRequest& concern = {});
  void DeletePrefix(absl::string_view prefix, size_t max_keys, WriteDone done,
                    const ConcernRequest& concern = {});
  void Touch(absl::string_view key, absl::Duration ttl, WriteDone done,
             const ConcernRequest& concern = {});
  // Store::ReleaseLeases, refused until synced (the release must merge with
  // what the cluster knows), returning once durable per --fsync.
  absl::StatusOr<LeaseReleaseResult> ReleaseLeases(absl::string_view node_id);
  // The same, blocking until `done` would run.
  absl::StatusOr<WriteResult> Set(absl::string_view key, const ValueView& value,
                                  const Precondition& pre = {},
                                  absl::Duration ttl = absl::ZeroDuration());
  absl::StatusOr<WriteResult> Delete(absl::string_view key, const Precondition& pre = {});
  absl::StatusOr<WriteResult> Update(const KeyValuesView& items,
                                     const std::vector<Precondition>& pres = {},
                                     const std::vector<absl::Duration>& ttls = {});
  absl::StatusOr<WriteResult> ApplyDelta(absl::string_view key, const FieldsView& delta,
                                         const Precondition& pre = {},
                                         const FieldNamesView& remove = {},
                                         absl::Duration ttl = absl::ZeroDuration());
  absl::StatusOr<WriteResult> Pop(absl::string_view key);
  absl::StatusOr<WriteResult> PopItem();
  absl::StatusOr<WriteResult> DeletePrefix(absl::string_view prefix, size_t max_keys);
  absl::StatusOr<WriteResult> Touch(absl::string_view key, absl::Duration ttl);

  // --- Reads ---------------------------------------------------------------
  std::optional<Entry> Get(absl::string_view key, uint64_t* revision = nullptr) const {
    return store_.Get(key, revision);
  }
  // Read-only: lists, watch cursors and statistics read the store directly.
  const Store& store() const { return store_; }
  WatchHub& watches() { return watches_; }

  // At start-up, before the node serves: a record from this node's own data
  // directory (Store::Restore).
  absl::StatusOr<bool> Restore(const meshkv::mesh::v1::Record& record) {
    return store_.Restore(record);
  }

  // Sweeps expired keys, counts lapsed leases and collects old tombstones,
  // a bucket per call (Store::Maintain).
  void Maintain() { store_.Maintain(); }

  bool synced() const { return synced_.load(); }
  // The first sync has completed; returns whether it had already.
  bool SetSynced() { return synced_.exchange(true); }

  // --- peer::Replica: what the mesh merges and reads -----------------------
  absl::StatusOr<bool> Apply(const meshkv::mesh::v1::Record& record,
                             peer::ApplySource source) override;
  uint32_t buckets() const override { return Store::kBuckets; }
  std::vector<uint64_t> BucketDigests() const override { return store_.BucketDigests(); }
  std::vector<std::pair<std::string, uint64_t>> BucketKeys(uint32_t bucket) const override {
    return store_.BucketKeys(bucket);
  }
  bool ExportBucket(uint32_t bucket, absl::string_view after, size_t max_bytes,
                    std::vector<meshkv::mesh::v1::Record>* out,
                    std::string* last_key) const override {
    return store_.ExportBucket(bucket, after, max_bytes, out, last_key);
  }
  bool ExportKey(absl::string_view key, meshkv::mesh::v1::Record* out) const override {
    return store_.ExportKey(key, out);
  }

 private:
  absl::Status CheckSynced() const;
  // Runs a local operation: refused until synced; `done` once its change
  // is durable (and, with a concern, held by enough replicas).
  template <typename Op>
  void Durably(Op op, WriteDone done, const ConcernRequest& concern);
  // Runs an asynchronous operation and waits for its result.
  template <typename Start>
  static absl::StatusOr<WriteResult> Wait(Start start);

  DurabilityLog* const durability_;  // Not owned; may be null.
  WriteConcern* const concern_;      // Not owned; may be null.
  WatchHub watches_;  // before store_: the store tells it of every commit
  Store store_;
  std::atomic<bool> synced_{false};
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_NODE_H_
