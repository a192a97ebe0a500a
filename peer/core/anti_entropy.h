// AntiEntropy: when this node runs sync sessions (SyncSession), and when it
// counts as synced.
//
// A session runs on connect (started by the dialler, so that a pair syncs
// once, not twice), whenever a link dropped writes (Connection::want_sync),
// on a graft the recent-write cache cannot answer, and every
// anti_entropy_ms with a random idle neighbour; one that runs longer than
// sync_timeout_ms is abandoned. The node is synced after its first
// completed session with a synced peer (or with any peer when no synced one
// is in sight: a cluster starting together), at once when it has no seeds,
// or once initial_sync_timeout_ms passed with no session running (nobody
// answers: it serves with what it has).
//
// Not thread-safe: owned by the mesh core.
#ifndef MESHKV_PEER_CORE_ANTI_ENTROPY_H_
#define MESHKV_PEER_CORE_ANTI_ENTROPY_H_

#include <cstdint>

#include "peer/core/sync_session.h"

namespace meshkv::peer {

class AntiEntropy {
 public:
  // MeshOptions' fields of the same names; their defaults are written
  // there, once (the core fills these in).
  struct Options {
    int64_t anti_entropy_ms = 0;
    int64_t initial_sync_timeout_ms = 0;
    int64_t sync_timeout_ms = 0;
  };
  explicit AntiEntropy(Options options) : options_(options) {}

  // Starts the timers; a node without seeds has nobody to learn from, so
  // its state is complete.
  void Start(int64_t now_ms, bool has_seeds) {
    started_ms_ = now_ms;
    next_round_ms_ = now_ms + options_.anti_entropy_ms;
    if (!has_seeds) synced_ = true;
  }

  // True once per anti_entropy_ms: start a session with a random idle
  // neighbour.
  bool RoundDue(int64_t now_ms) {
    if (now_ms < next_round_ms_) return false;
    next_round_ms_ = now_ms + options_.anti_entropy_ms;
    return true;
  }
  // Whether `s` has run too long and must be abandoned.
  bool Expired(const SyncSession& s, int64_t now_ms) const {
    return now_ms - s.started_ms() > options_.sync_timeout_ms;
  }

  // A session completed with a peer whose Hello said `peer_synced`, while
  // `synced_peer_connected` says whether any synced peer is established.
  // True when this made the node synced.
  bool Completed(bool peer_synced, bool synced_peer_connected) {
    // A peer that is itself still joining may hold little: its session
    // counts only when no synced peer is in sight, else the node would
    // serve without the cluster's state.
    if (synced_ || !(peer_synced || !synced_peer_connected)) return false;
    synced_ = true;
    return true;
  }
  // Called on every tick with whether any session runs: true when the wait
  // for a first session just ran out, making the node synced.
  bool GiveUpWaiting(int64_t now_ms, bool syncing) {
    if (synced_ || now_ms - started_ms_ < options_.initial_sync_timeout_ms || syncing) return false;
    synced_ = true;
    return true;
  }

  bool synced() const { return synced_; }
  int64_t waited_ms(int64_t now_ms) const { return now_ms - started_ms_; }

 private:
  const Options options_;
  int64_t started_ms_ = 0;
  int64_t next_round_ms_ = 0;
  bool synced_ = false;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_ANTI_ENTROPY_H_
