// MapReplica: a tiny in-memory Replica for the mesh core's unit tests.
//
// Holds whole records by key and merges them last-writer-wins by version
// (higher hlc wins; on equal hlc the smaller origin), as the store does for
// whole-value writes. Field writes (Record.kind NONE) are not modelled: the
// core never looks inside a record, so tests need none. Digests are a stable
// hash, alike on every MapReplica with the same bucket count, so two of them
// can run anti-entropy against each other. It links only the core's own
// dependencies (no store, no gRPC), which keeps core tests free of both.
//
//   MapReplica r(/*buckets=*/16);
//   r.Put("k", "v", /*hlc=*/1, "n0");
//
// Not thread-safe: tests call it from the mesh's (their own) thread.
#ifndef MESHKV_PEER_CORE_MAP_REPLICA_H_
#define MESHKV_PEER_CORE_MAP_REPLICA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/hash.h"
#include "meshkv/mesh/v1/record.pb.h"
#include "peer/core/replica.h"

namespace meshkv::peer {

class MapReplica final : public Replica {
 public:
  explicit MapReplica(uint32_t buckets = 16) : buckets_(buckets) {}

  // A record with a bytes value (as a local Set makes), not yet applied.
  static meshkv::mesh::v1::Record MakeRecord(absl::string_view key, absl::string_view value,
                                             uint64_t hlc, absl::string_view origin) {
    meshkv::mesh::v1::Record r;
    r.set_key(std::string(key));
    r.set_kind(meshkv::mesh::v1::Record::BYTES);
    r.mutable_version()->set_hlc(hlc);
    r.mutable_version()->set_origin(std::string(origin));
    r.set_bytes(std::string(value));
    return r;
  }
  // Applies a new record of `key` and returns it (for Broadcast).
  meshkv::mesh::v1::Record Put(absl::string_view key, absl::string_view value, uint64_t hlc,
                               absl::string_view origin) {
    meshkv::mesh::v1::Record r = MakeRecord(key, value, hlc, origin);
    (void)Apply(r, ApplySource::kWrite);
    return r;
  }
  std::optional<std::string> Get(absl::string_view key) const {
    auto it = records_.find(key);
    if (it == records_.end()) return std::nullopt;
    return it->second.bytes();
  }
  size_t size() const { return records_.size(); }
  // Records that changed this replica, by how they came.
  uint64_t applied(ApplySource source) const {
    return source == ApplySource::kWrite ? applied_writes_ : applied_syncs_;
  }
  uint32_t BucketOf(absl::string_view key) const {
    return static_cast<uint32_t>(StableHash(key) % buckets_);
  }

  // --- Replica ---------------------------------------------------------------
  absl::StatusOr<bool> Apply(const meshkv::mesh::v1::Record& record,
                             ApplySource source) override {
    if (record.key().empty()) return absl::InvalidArgumentError("record without key");
    auto it = records_.find(record.key());
    if (it != records_.end() && !Newer(record.version(), it->second.version())) return false;
    records_[record.key()] = record;
    ++(source == ApplySource::kWrite ? applied_writes_ : applied_syncs_);
    return true;
  }
  uint32_t buckets() const override { return buckets_; }
  std::vector<uint64_t> BucketDigests() const override {
    std::vector<uint64_t> d(buckets_, 0);
    for (const auto& [key, r] : records_) d[BucketOf(key)] ^= Hash(r);
    return d;
  }
  std::vector<std::pair<std::string, uint64_t>> BucketKeys(uint32_t bucket) const override {
    std::vector<std::pair<std::string, uint64_t>> keys;
    for (const auto& [key, r] : records_) {
      if (BucketOf(key) == bucket) keys.emplace_back(key, Hash(r));
    }
    return keys;
  }
  bool ExportBucket(uint32_t bucket, absl::string_view after, size_t max_bytes,
                    std::vector<meshkv::mesh::v1::Record>* out,
                    std::string* last_key) const override {
    size_t bytes = 0;
    for (auto it = records_.upper_bound(after); it != records_.end(); ++it) {
      if (BucketOf(it->first) != bucket) continue;
      if (bytes >= max_bytes) return false;
      out->push_back(it->second);
      bytes += it->second.ByteSizeLong();
      *last_key = it->first;
    }
    return true;
  }
  bool ExportKey(absl::string_view key, meshkv::mesh::v1::Record* out) const override {
    auto it = records_.find(key);
    if (it == records_.end()) return false;
    *out = it->second;
    return true;
  }

 private:
  static bool Newer(const meshkv::mesh::v1::Version& a, const meshkv::mesh::v1::Version& b) {
    if (a.hlc() != b.hlc()) return a.hlc() > b.hlc();
    return a.origin() < b.origin();
  }
  static uint64_t Hash(const meshkv::mesh::v1::Record& r) {
    uint64_t h = StableHash(r.key());
    h = HashCombine(h, r.version().hlc());
    h = HashCombine(h, StableHash(r.version().origin()));
    h = HashCombine(h, static_cast<uint64_t>(r.kind()));
    return HashCombine(h, StableHash(r.bytes()));
  }

  const uint32_t buckets_;
  absl::btree_map<std::string, meshkv::mesh::v1::Record, std::less<>> records_;  // by key
  uint64_t applied_writes_ = 0;
  uint64_t applied_syncs_ = 0;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_MAP_REPLICA_H_
