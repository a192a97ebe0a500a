// Dissemination: how writes spread, one spanning tree per origin.
//
// Each write, named (origin, origin_seq), is pushed once (SeqTracker) to
// every neighbour but the one it came from, unless that neighbour pruned the
// origin. A write arriving twice makes the receiver prune its origin on the
// link it came over, so each origin's writes settle into a spanning tree,
// the paths by which they arrive first (Plumtree, Leitao et al. 2007, with a
// tree per origin so that pruning for one origin cannot cut another's). A
// node that loses a link grafts, on its other links, every origin whose
// writes came over it first; heartbeats carry per-origin watermarks, and a
// neighbour that stays ahead twice in a row is grafted for that origin and
// resends what was missed from the cache of recent writes (RecentWrites), or
// repairs it by anti-entropy when the cache no longer reaches back.
//
// This class holds the node's side of that protocol (what it has seen, each
// origin's tree parent, the recent-write cache, this life's origin_seq) and
// decides; the core sends the Prune and Graft frames it asks for. Each
// link's side is a LinkTrees, kept in the link's Connection.
//
// Not thread-safe: owned by the mesh core.
#ifndef MESHKV_PEER_CORE_DISSEMINATION_H_
#define MESHKV_PEER_CORE_DISSEMINATION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/mesh_types.h"
#include "peer/core/recent_writes.h"
#include "peer/core/seq_tracker.h"

namespace meshkv::peer {

// One link's part in the per-origin trees.
struct LinkTrees {
  // Origins whose writes the peer asked us not to push (it gets them
  // another way), and origins we asked it the same.
  absl::flat_hash_set<std::string> pruned_by_peer;
  absl::flat_hash_set<std::string> pruned_by_us;
  // Origins this peer's last heartbeat showed ahead of us, and how far: if
  // the next one still does, we graft.
  absl::flat_hash_map<std::string, uint64_t> suspect;

  // Whether writes of `origin` go to this peer.
  bool Pushes(const std::string& origin) const { return !pruned_by_peer.contains(origin); }
};

class Dissemination {
 public:
  // `incarnation_ms` is the base of this life's origin_seq (SeqTracker::Base).
  Dissemination(std::string node_id, int64_t incarnation_ms, size_t recent_writes,
                size_t recent_write_bytes);

  // A local write: named with this node's next origin_seq and seen.
  meshkv::mesh::v1::Write Originate(meshkv::mesh::v1::Record record);

  // Whether `origin_seq` is one this node's local writes of this life used.
  bool Originated(uint64_t origin_seq) const {
    return origin_seq > seq_base_ && origin_seq <= next_seq_;
  }

  // A write arriving over `link` (connection `from`): whether it is new.
  SeqTracker::Sighting See(const meshkv::mesh::v1::Write& w) {
    return seen_.See(w.origin(), w.origin_seq());
  }
  // It was not new: true when the link must be pruned for its origin (a
  // Prune frame sent), the first time it brings a proven duplicate.
  bool Duplicate(LinkTrees& link, const meshkv::mesh::v1::Write& w, SeqTracker::Sighting s);
  // It was new and applied: `from` is its origin's tree parent. True when
  // the link had been pruned by us for that origin and must be grafted back
  // (a Graft frame sent), so that no node prunes every path of an origin.
  bool Accepted(LinkTrees& link, ConnId from, const meshkv::mesh::v1::Write& w);
  // Keeps `w` to answer grafts.
  void Remember(meshkv::mesh::v1::Write w) { recent_.Remember(std::move(w)); }

  // The peer's heartbeat watermarks: the Grafts to send it for origins it
  // stayed ahead of us on twice in a row.
  std::vector<meshkv::mesh::v1::Graft> Heartbeat(
      LinkTrees& link, const google::protobuf::RepeatedPtrField<meshkv::mesh::v1::OriginMark>& seen);

  // The peer grafted us: the writes to resend it, and whether a sync
  // session must repair what the cache no longer holds.
  struct GraftAnswer {
    std::vector<const meshkv::mesh::v1::Write*> resend;  // valid until the next Remember()
    bool needs_sync = false;
  };
  GraftAnswer Grafted(LinkTrees& link, const meshkv::mesh::v1::Graft& graft) const;

  // Connection `lost` is gone: the origins whose tree parent it was, which
  // lose that parent. Each other link pruned by us for one of them must be
  // grafted (Regraft).
  std::vector<std::string> Orphaned(ConnId lost);
  // True (and the link is no longer pruned by us) when it was.
  static bool Regraft(LinkTrees& link, const std::string& origin) {
    return link.pruned_by_us.erase(origin) > 0;
  }

  // Watermarks, for heartbeats and sync sessions; adopting a peer's after a
  // completed sync (SeqTracker::Adopt).
  std::vector<std::pair<std::string, uint64_t>> Watermarks() const { return seen_.Watermarks(); }
  void AddMarks(google::protobuf::RepeatedPtrField<meshkv::mesh::v1::OriginMark>* marks) const;
  // Never our own origin: only this node numbers its writes, so a peer's
  // mark for it proves nothing (a forger's would be arbitrary).
  void Adopt(const std::string& origin, uint64_t seq) {
    if (origin != node_id_) seen_.Adopt(origin, seq);
  }
  uint64_t Watermark(const std::string& origin) const { return seen_.Watermark(origin); }
  // What this node vouches it holds of `origin` (SeqTracker::Held).
  uint64_t Held(const std::string& origin) const { return seen_.Held(origin); }
  // The connection `origin`'s writes come over first (0: none known).
  ConnId Parent(const std::string& origin) const {
    auto it = parent_.find(origin);
    return it == parent_.end() ? 0 : it->second;
  }
  const RecentWrites& recent() const { return recent_; }

 private:
  const std::string node_id_;
  SeqTracker seen_;
  // Per origin, the connection its writes came over first: its tree parent.
  absl::flat_hash_map<std::string, ConnId> parent_;
  RecentWrites recent_;
  const uint64_t seq_base_;  // this life's writes are numbered above it
  uint64_t next_seq_;        // this life's origin_seq
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_DISSEMINATION_H_
