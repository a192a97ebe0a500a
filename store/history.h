// The bounded, in-memory log of recent changes that Watch replays.
//
// Every visible change gets the next node-local revision and one event here,
// so the events are contiguous by revision: event r sits at index
// r - first_revision(). The oldest events are dropped when the log holds more
// than `max_events` events or, counting the records they keep alive, more
// than `max_bytes`. Events share records with the store's index: an event
// costs two pointers unless its record has since been replaced.
//
// Not thread-safe: the store guards it.
#ifndef MESHKV_STORE_HISTORY_H_
#define MESHKV_STORE_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "store/record.h"

namespace meshkv {

// One change: `next` is the new state (a tombstone for a delete), `prev` the
// state before (null or not live when the key was absent).
struct ChangeEvent {
  RecordPtr next;
  RecordPtr prev;
  uint64_t revision() const { return next->revision(); }
  bool is_delete() const { return !next->live(); }
  // False for a tombstone of a key that had no value here (a delete merged
  // for a key this node never saw live): a change of state, nothing to see.
  bool visible() const { return next->live() || (prev != nullptr && prev->live()); }
};

class History {
 public:
  // The first event appended is revision `base_revision + 1`.
  History(size_t max_events, size_t max_bytes, uint64_t base_revision = 0)
      : max_events_(max_events), max_bytes_(max_bytes), last_revision_(base_revision) {}

  // Appends the event of revision `last_revision() + 1`.
  void Append(ChangeEvent event);

  // Appends to `out` up to `max` visible events (and about `max_bytes` of
  // keys and values, at least one event) with revision > `after` and key
  // starting with `prefix`, and sets `*scanned_through` to the highest
  // revision examined (>= after). OUT_OF_RANGE when events after `after`
  // have already been dropped, or when `after` is ahead of the last revision.
  absl::Status Read(uint64_t after, absl::string_view prefix, size_t max, size_t max_bytes,
                    std::vector<ChangeEvent>* out, uint64_t* scanned_through) const;

  // Revision of the oldest event held; last_revision() + 1 when empty.
  uint64_t first_revision() const { return last_revision_ + 1 - events_.size(); }
  uint64_t last_revision() const { return last_revision_; }
  size_t size() const { return events_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  static size_t Cost(const ChangeEvent& e);

  const size_t max_events_;
  const size_t max_bytes_;
  std::deque<ChangeEvent> events_;
  uint64_t last_revision_;
  size_t bytes_ = 0;
};

}  // namespace meshkv

#endif  // MESHKV_STORE_HISTORY_H_
