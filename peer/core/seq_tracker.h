// SeqTracker: which writes of each origin this node has already seen, so
// that a write flooded along several paths is applied and forwarded once.
//
// A write is named (origin, origin_seq). An origin numbers its writes
// 1, 2, 3, ... above a base of start_ms * 2^20, so a restarted origin (a new
// incarnation) continues above everything its previous life sent, without
// persistent state. Per origin the tracker keeps a watermark (every seq at
// or below it counts as seen) and the seqs seen above it. Gaps fill as
// writes arrive over other paths; a gap still open when `max_pending` seqs
// wait above it is abandoned: those writes, if they ever arrive, count as
// duplicates, and anti-entropy repairs what they carried. Memory is thus
// bounded per origin.
//
// The first write seen of an origin (or of its new incarnation) leaves a
// window of kReorderWindow seqs below it open, for earlier writes still on
// their way over slower paths. A watermark can also be adopted from a peer
// whose whole state this node has merged: writes at or below it that
// arrive afterwards are "covered" (their effect is here) rather than
// duplicates, since they may have been on their way during the exchange.
//
// Not thread-safe: owned by the mesh core.
#ifndef MESHKV_PEER_CORE_SEQ_TRACKER_H_
#define MESHKV_PEER_CORE_SEQ_TRACKER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/strings/string_view.h"

namespace meshkv::peer {

class SeqTracker {
 public:
  // Bits below an incarnation's base: 2^20 writes per millisecond of uptime
  // before a restart could collide, which no node reaches.
  static constexpr int kIncarnationShift = 20;
  static uint64_t Base(int64_t start_ms) {
    return static_cast<uint64_t>(start_ms) << kIncarnationShift;
  }

  static constexpr uint64_t kReorderWindow = 1024;

  enum class Sighting {
    kNew,        // first time: apply and pass on
    kDuplicate,  // seen before, over another path
    kCovered,    // at or below an adopted watermark: its effect is here
  };

  explicit SeqTracker(size_t max_pending = 4096) : max_pending_(max_pending) {}

  Sighting See(absl::string_view origin, uint64_t seq);
  // True the first time (origin, seq) is offered.
  bool FirstSighting(absl::string_view origin, uint64_t seq) {
    return See(origin, seq) == Sighting::kNew;
  }
  // Every write of `origin` up to the returned seq counts as seen (0: none).
  uint64_t Watermark(absl::string_view origin) const;
  // Counts everything of `origin` up to `seq` as seen: learned from a peer
  // whose whole state, as of when it had seen up to `seq`, this node merged.
  void Adopt(absl::string_view origin, uint64_t seq);
  // What this node can vouch it holds of `origin` (the write concern's
  // acknowledgements): the watermark, but never past a seq counted as seen
  // without being received or adopted (the window below a first sighting,
  // a gap given up on) until a completed sync adopts a mark above it.
  uint64_t Held(absl::string_view origin) const;
  // (origin, watermark) of every origin, for heartbeats.
  std::vector<std::pair<std::string, uint64_t>> Watermarks() const;

  size_t origins() const { return origins_.size(); }

 private:
  struct Origin {
    uint64_t watermark = 0;
    uint64_t adopted = 0;  // highest watermark adopted from a peer
    // Seqs counted as seen without being received or adopted lie in
    // [assumed_from, assumed_upto] (empty when assumed_upto <= adopted).
    uint64_t assumed_from = 0;
    uint64_t assumed_upto = 0;
    absl::btree_set<uint64_t> above;
  };
  const size_t max_pending_;
  // Ordered, so that Watermarks() comes out in a reproducible order.
  absl::btree_map<std::string, Origin, std::less<>> origins_;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_SEQ_TRACKER_H_
