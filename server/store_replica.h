// StoreReplica: the mesh's view of a Store (peer::Replica over Store).
//
// Records merged from the mesh go to the store's merge, and every change is
// reported to `on_change` (the node wakes its watchers there and measures
// replication lag). Used by the node and, with no callback, by the mesh
// simulator.
//
// Thread-safe as the Store is; `on_change` runs on the mesh's thread.
#ifndef MESHKV_SERVER_STORE_REPLICA_H_
#define MESHKV_SERVER_STORE_REPLICA_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "peer/core/replica.h"
#include "store/store.h"

namespace meshkv {

class StoreReplica final : public peer::Replica {
 public:
  // Called after a merge changed the store, with the merged record.
  using OnChange = std::function<void(const meshkv::mesh::v1::Record&, peer::ApplySource)>;

  explicit StoreReplica(Store* store, OnChange on_change = nullptr)
      : store_(store), on_change_(std::move(on_change)) {}

  absl::StatusOr<bool> Apply(const meshkv::mesh::v1::Record& record,
                             peer::ApplySource source) override {
    absl::StatusOr<bool> changed = store_->Merge(record);
    if (changed.ok() && *changed && on_change_) on_change_(record, source);
    return changed;
  }
  uint32_t buckets() const override { return Store::kBuckets; }
  std::vector<uint64_t> BucketDigests() const override { return store_->BucketDigests(); }
  std::vector<std::pair<std::string, uint64_t>> BucketKeys(uint32_t bucket) const override {
    return store_->BucketKeys(bucket);
  }
  bool ExportBucket(uint32_t bucket, absl::string_view after, size_t max_bytes,
                    std::vector<meshkv::mesh::v1::Record>* out,
                    std::string* last_key) const override {
    return store_->ExportBucket(bucket, after, max_bytes, out, last_key);
  }
  bool ExportKey(absl::string_view key, meshkv::mesh::v1::Record* out) const override {
    return store_->ExportKey(key, out);
  }

 private:
  Store* const store_;  // Not owned.
  const OnChange on_change_;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_STORE_REPLICA_H_
