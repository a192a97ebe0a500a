// AckTracker: the write concern's bookkeeping in the mesh core: which nodes
// hold this node's writes, what it knows of others' holders while relaying
// their acknowledgements, and the acknowledgements it owes.
//
// A write the client waits for (min_replicas > 0) is flooded with
// Write.ack_wanted. Every node that receives one owes an Ack to the
// neighbour it came from: its own holder mark for the origin (SeqTracker::
// Held: every write of the origin up to that seq is applied here), sent once
// the mark reaches the write (and, with --fsync=always, once it is on disk).
// Each node relays Acks toward the origin over the link by which the
// origin's writes reach it first (its tree parent, Dissemination), or to all
// its other neighbours when it has none. Marks are per (origin, holder) and
// only grow: a node forwards only the marks that raise what it knew, so
// duplicates, echoes and several paths cost nothing twice and the flood of a
// relay without a parent dies out. The origin keeps, per holder, the highest
// mark it heard; a waiting write with origin_seq s is held by every holder
// whose mark is >= s. Writes nobody waits for cause no Ack at all.
//
// Bounded: at most kMaxOrigins origins and kMaxHolders holders each are
// remembered (a cluster has far fewer; only a non-member could claim more,
// and only without TLS); marks beyond are ignored. Owed acks are at most one
// per origin.
//
// Not thread-safe: owned by the mesh core.
#ifndef MESHKV_PEER_CORE_ACK_TRACKER_H_
#define MESHKV_PEER_CORE_ACK_TRACKER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/mesh_types.h"

namespace meshkv::peer {

class AckTracker {
 public:
  static constexpr size_t kMaxOrigins = 1024;
  static constexpr size_t kMaxHolders = 1024;

  using Marks = std::vector<std::pair<std::string, uint64_t>>;  // (node ID, seq)

  // --- This node's own writes ----------------------------------------------
  // `holder` holds our writes up to `seq` (the caller checked that seq is
  // one we issued). True when that raised its mark.
  bool Acked(const std::string& holder, uint64_t seq);
  // Per holder, the highest mark heard.
  const absl::flat_hash_map<std::string, uint64_t>& acked() const { return acked_; }
  // Marks raised since the last call, for the driver to hand to waiters.
  Marks TakeRaised();

  // --- Relaying others' acknowledgements -----------------------------------
  // Of `marks` for `origin`, those that raise what this node knew (each
  // raised here): the ones to pass on toward the origin.
  Marks Learn(const std::string& origin,
              const google::protobuf::RepeatedPtrField<meshkv::mesh::v1::HolderMark>& marks);

  // --- Acknowledgements this node owes ------------------------------------
  // A write of `origin` with `seq`, marked ack_wanted, arrived over `from`.
  void Owe(const std::string& origin, uint64_t seq, ConnId from);
  struct Due {
    std::string origin;
    ConnId to;
    uint64_t held;
  };
  // The acks to send now: for each owed origin whose held mark (`held`)
  // rose above what was sent for it. Settled when the mark covers the
  // write; kept until then.
  template <typename HeldFn>
  std::vector<Due> TakeDue(HeldFn held);
  bool owes() const { return !owed_.empty(); }
  // Connection `id` is gone: acks owed over it are dropped (the waiter
  // will hear from the holders by other paths, or time out).
  void Forget(ConnId id);

 private:
  struct Owed {
    ConnId to = 0;
    uint64_t want = 0;  // the highest seq waited for
    uint64_t sent = 0;  // the mark last sent to `to`
  };

  absl::flat_hash_map<std::string, uint64_t> acked_;
  absl::flat_hash_map<std::string, uint64_t> raised_;  // since TakeRaised
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, uint64_t>> known_;
  absl::btree_map<std::string, Owed> owed_;  // ordered: reproducible output
};

template <typename HeldFn>
std::vector<AckTracker::Due> AckTracker::TakeDue(HeldFn held) {
  std::vector<Due> due;
  for (auto it = owed_.begin(); it != owed_.end();) {
    Owed& o = it->second;
    const uint64_t mark = held(it->first);
    if (mark > o.sent) {
      due.push_back({it->first, o.to, mark});
      o.sent = mark;
    }
    it = o.sent >= o.want ? owed_.erase(it) : std::next(it);
  }
  return due;
}

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_ACK_TRACKER_H_
