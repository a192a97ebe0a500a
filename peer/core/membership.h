// Membership: the addresses this node may dial, and when.
//
// A dial target is an address (host:port) this node knows: a seed, or a
// node's advertised address learnt from a Hello or a peer list. It is not a
// remote node: one node may be known under several addresses (a seed given
// as a DNS name, advertising an IP), and a target's node ID is known only
// once it answered or someone listed it. Membership keeps every target,
// backs off from those that failed (exponential, with jitter so restarted
// nodes do not dial in lockstep), picks which to dial next (the seeds
// first while the node is alone), merges and makes peer lists, and times
// the periodic shuffle that replaces one dialled neighbour.
//
// The core owns connections; Membership only says which target to dial and
// remembers which connection dials it.
//
// What a member's peer list can make this node hold and do is bounded
// (issue 10): at most kMaxDialTargets addresses are known (a list's new
// addresses beyond that are dropped; one never reached makes room for a
// member's); only the first kMaxPeerListEntries entries of a list count; an
// address learnt from a list that never answered is forgotten after
// kMaxUnansweredDials failed dials; at most one such unproven address is
// dialled at a time; and the lists this node sends carry only addresses it
// reached itself, so a hostile list is not relayed through the cluster.
//
// Not thread-safe: owned by the mesh core.
#ifndef MESHKV_PEER_CORE_MEMBERSHIP_H_
#define MESHKV_PEER_CORE_MEMBERSHIP_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/mesh_types.h"

namespace meshkv::peer {

// An address this node may dial.
struct DialTarget {
  std::string addr;
  std::string node_id;  // once known
  bool seed = false;
  bool self = false;     // this node's own address: never dial
  bool reached = false;  // a member was reached there (or came from there)
  int failures = 0;      // failed dials since it last answered
  ConnId conn = 0;    // our outbound connection to it, if any
  int64_t backoff_ms = 0;
  int64_t next_attempt_ms = 0;
};

class Membership {
 public:
  // MeshOptions' fields of the same names; their defaults are written
  // there, once (the core fills these in).
  struct Options {
    std::string node_id;
    std::string advertise_addr;
    std::vector<std::string> seeds;
    int64_t reconnect_min_ms = 0;
    int64_t reconnect_max_ms = 0;
    int64_t shuffle_ms = 0;
  };
  // Peer lists carry at most this many entries (this node first); of a
  // longer list received, the rest is ignored.
  static constexpr int kMaxPeerListEntries = 64;
  // Addresses known at most, seeds and this node's own included.
  static constexpr size_t kMaxDialTargets = 256;
  // An address never reached is forgotten after this many failed dials.
  static constexpr int kMaxUnansweredDials = 3;

  // `rng` (not owned) is the core's: every choice comes from one seeded
  // sequence, so that the same inputs give the same outputs.
  Membership(Options options, std::mt19937_64* rng);

  // Knows the seeds and this node's own address; starts the shuffle timer.
  void Start(int64_t now_ms);

  // The target at `addr`, added if new (even beyond kMaxDialTargets: the
  // core calls it for addresses it dials or seeds).
  DialTarget& At(const std::string& addr);

  // A dial or connection to `t` failed (or ended so that dialling straight
  // back would fail again): the next attempt waits reconnect_min_ms,
  // doubled per failure up to reconnect_max_ms (at once when `refused`),
  // times a jitter in [0.5, 1.5).
  void Backoff(DialTarget& t, int64_t now_ms, bool refused);
  // A connection to the node `node_id` is established, dialled at
  // `dialled_addr` (empty for an accepted one), advertising `advertised`
  // (empty when not trusted): those targets are that node's, and reachable.
  void Reached(const std::string& dialled_addr, const std::string& advertised,
               const std::string& node_id);

  // The target to dial next, or nullptr: one not dialled, not backing off,
  // not this node, and not a node in `connected` (node IDs with a live
  // connection); a seed when `alone` and a seed is available; an address
  // never reached only when no other such is being dialled. Forgets, first,
  // the addresses never reached that failed kMaxUnansweredDials times.
  DialTarget* NextToDial(int64_t now_ms, const absl::flat_hash_map<std::string, bool>& connected,
                         bool alone);

  // Peer lists: ours for a neighbour (`peer_id`, left out; only addresses
  // reached), and merging a neighbour's (new addresses become targets while
  // there is room; an address's node ID is kept once known).
  meshkv::mesh::v1::PeerList MakePeerList(const std::string& peer_id) const;
  void Merge(const meshkv::mesh::v1::PeerList& list);

  // The shuffle's timer: true once per shuffle_ms.
  bool ShuffleDue(int64_t now_ms);
  // Whether some node not in `connected` could be dialled now: only then
  // does a shuffle replace a neighbour.
  bool Elsewhere(int64_t now_ms, const absl::flat_hash_map<std::string, bool>& connected) const;

  // Nodes this node knows, by ID (unreached seeds by address), itself
  // excluded.
  int KnownNodes() const;
  const absl::btree_map<std::string, DialTarget>& targets() const { return targets_; }
  const Options& options() const { return options_; }

 private:
  // Whether one more address may be known: there is room, or one never
  // reached and not being dialled is forgotten to make it.
  bool MakeRoom();
  // Addresses never reached that failed too often are forgotten.
  void ForgetUnanswered();

  const Options options_;
  std::mt19937_64* const rng_;  // Not owned.
  // Ordered, so that iteration (and with it every choice) is reproducible.
  absl::btree_map<std::string, DialTarget> targets_;  // by address
  int64_t next_shuffle_ms_ = 0;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_MEMBERSHIP_H_
