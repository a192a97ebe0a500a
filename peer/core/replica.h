// Replica: all the mesh knows of the local store.
//
// The mesh merges what peers send through Apply() and reads digests and
// records for anti-entropy; it never sees the store's types. The server
// implements this interface on its Node (server/node.h); the
// simulator does too.
//
// Called only from the mesh's thread, but implementations must tolerate the
// store being written concurrently by local operations.
#ifndef MESHKV_PEER_CORE_REPLICA_H_
#define MESHKV_PEER_CORE_REPLICA_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "meshkv/mesh/v1/record.pb.h"

namespace meshkv::peer {

// How a record reached this node: flooded as a new write, or carried by
// anti-entropy (perhaps long after it was written).
enum class ApplySource { kWrite, kSync };

class Replica {
 public:
  virtual ~Replica() = default;

  // Merges a record written at another node; true when it changed this
  // replica. An error for a record this replica refuses (malformed or over
  // its limits): counted, not forwarded.
  virtual absl::StatusOr<bool> Apply(const meshkv::mesh::v1::Record& record,
                                     ApplySource source) = 0;

  // Anti-entropy: the state is divided into a fixed number of buckets by a
  // hash of the key, each summarised by a digest (0 when empty) that every
  // node computes alike.
  virtual uint32_t buckets() const = 0;
  virtual std::vector<uint64_t> BucketDigests() const = 0;
  // (key, record digest) of every record of a bucket, tombstones included.
  virtual std::vector<std::pair<std::string, uint64_t>> BucketKeys(uint32_t bucket) const = 0;
  // Appends records of `bucket` with key > `after` in key order until about
  // `max_bytes`; true when the bucket is exhausted. `*last_key` is the last
  // key appended.
  virtual bool ExportBucket(uint32_t bucket, absl::string_view after, size_t max_bytes,
                            std::vector<meshkv::mesh::v1::Record>* out,
                            std::string* last_key) const = 0;
  // The whole record of `key`; false when this replica knows nothing of it.
  virtual bool ExportKey(absl::string_view key, meshkv::mesh::v1::Record* out) const = 0;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_REPLICA_H_
