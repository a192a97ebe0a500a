// WatchCursor: one watcher's position in the store's change history, for
// one prefix. The gRPC WatchStream and the simulator's watch checker both
// read through it, so the simulation checks the reading that clients get.
//
//   absl::StatusOr<WatchCursor> c = WatchCursor::Open(&store, "k/", 0);
//   std::vector<WatchEvent> events;
//   c->Next(512, 1 << 20, &events);  // events after c's revision; advances
//
// A cursor may deliver only updates or only deletes (WatchFilter); it still
// moves past the events it leaves out, so its revision means "everything up
// to here that this watcher wants has been read".
//
// Not thread-safe: its owner serialises calls (WatchStream under its mutex).
// The store must outlive the cursor.
#ifndef MESHKV_SERVER_WATCH_CURSOR_H_
#define MESHKV_SERVER_WATCH_CURSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/store.h"

namespace meshkv {

// Which events a cursor delivers (WatchRequest.filter).
enum class WatchFilter { kAll, kUpdates, kDeletes };

class WatchCursor {
 public:
  // A cursor after `start_revision`, or after the store's current revision
  // when it is 0 ("from now"). OUT_OF_RANGE when the history no longer
  // reaches back to it.
  static absl::StatusOr<WatchCursor> Open(const Store* store, std::string prefix,
                                          uint64_t start_revision,
                                          WatchFilter filter = WatchFilter::kAll);

  // Appends the next events under the prefix that pass the filter (at most
  // `max`, and about `max_bytes`, at least one) and moves past everything it
  // scanned, events or not; empty only when the history holds nothing more
  // for it. OUT_OF_RANGE when the history has moved past the cursor: the
  // watcher fell behind.
  absl::Status Next(size_t max, size_t max_bytes, std::vector<WatchEvent>* out);

  // Every change up to this revision has been read.
  uint64_t revision() const { return revision_; }
  // How many revisions the cursor is behind `head` (0 when it is not; a
  // notification may trail the history it announces).
  uint64_t LagBehind(uint64_t head) const { return head > revision_ ? head - revision_ : 0; }
  const std::string& prefix() const { return prefix_; }

 private:
  WatchCursor(const Store* store, std::string prefix, uint64_t revision, WatchFilter filter)
      : store_(store), prefix_(std::move(prefix)), revision_(revision), filter_(filter) {}

  bool Wants(const WatchEvent& e) const;

  const Store* store_;  // Not owned.
  std::string prefix_;
  uint64_t revision_;
  WatchFilter filter_;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_WATCH_CURSOR_H_
