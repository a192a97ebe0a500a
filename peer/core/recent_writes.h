// RecentWrites: the writes this node saw last, kept to answer grafts.
//
// A neighbour that missed writes while an origin's dissemination tree was
// broken asks for them by (origin, seq) range (Graft). The cache holds the
// most recent writes of every origin, at most `max_writes` of them and about
// `max_bytes` in all, evicting the oldest arrival first (an origin's writes
// leave in the order they came).
//
// Not thread-safe: owned by the mesh core's Dissemination.
#ifndef MESHKV_PEER_CORE_RECENT_WRITES_H_
#define MESHKV_PEER_CORE_RECENT_WRITES_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "meshkv/mesh/v1/mesh.pb.h"

namespace meshkv::peer {

class RecentWrites {
 public:
  RecentWrites(size_t max_writes, size_t max_bytes)
      : max_writes_(max_writes), max_bytes_(max_bytes) {}

  // Keeps `w`, evicting the oldest writes beyond the bounds.
  void Remember(meshkv::mesh::v1::Write w);

  // The writes of `origin` with after < seq <= upto still held, in arrival
  // order; `*first_held` says whether seq after + 1 is among them (false:
  // the cache no longer reaches back that far, or never saw the origin).
  // The pointers stay valid until the next Remember().
  std::vector<const meshkv::mesh::v1::Write*> Range(const std::string& origin, uint64_t after,
                                                    uint64_t upto, bool* first_held) const;

  size_t size() const { return order_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  const size_t max_writes_;
  const size_t max_bytes_;
  // Per origin in arrival order, and the origin and size of all of them in
  // arrival order, oldest first, for eviction.
  absl::flat_hash_map<std::string, std::deque<meshkv::mesh::v1::Write>> by_origin_;
  std::deque<std::pair<std::string, size_t>> order_;
  size_t bytes_ = 0;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_RECENT_WRITES_H_
