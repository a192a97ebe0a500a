#include "store/history.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace meshkv {

size_t History::Cost(const ChangeEvent& e) {
  return sizeof(ChangeEvent) + e.next->ApproximateBytes() +
         (e.prev ? e.prev->ApproximateBytes() : 0);
}

void History::Append(ChangeEvent event) {
  last_revision_ = event.revision();
  bytes_ += Cost(event);
  events_.push_back(std::move(event));
  while (events_.size() > max_events_ || (bytes_ > max_bytes_ && events_.size() > 1)) {
    bytes_ -= Cost(events_.front());
    events_.pop_front();
  }
}

absl::Status History::Read(uint64_t after, absl::string_view prefix, size_t max, size_t max_bytes,
                           std::vector<ChangeEvent>* out, uint64_t* scanned_through) const {
  if (after > last_revision_) {
    // Revisions are per node: a client bringing one from another node (or
    // from this node's previous life) must list again here.
    return absl::OutOfRangeError(absl::StrCat(
        "revision ", after, " is ahead of this node's revision ", last_revision_,
        "; revisions are per node, so list again on this node and watch from its revision"));
  }
  *scanned_through = after;
  if (after == last_revision_) return absl::OkStatus();
  const uint64_t first = first_revision();
  if (after + 1 < first) {
    return absl::OutOfRangeError(
        absl::StrCat("revision ", after, " is older than the watch history, which starts at ",
                     first, "; list again and watch from the listing's revision"));
  }
  *scanned_through = last_revision_;
  size_t taken = 0, bytes = 0;
  for (size_t i = after + 1 - first; i < events_.size(); ++i) {
    const ChangeEvent& e = events_[i];
    if (!e.visible() || !absl::StartsWith(e.next->key(), prefix)) continue;
    if (taken == max || (taken > 0 && bytes >= max_bytes)) {
      *scanned_through = e.revision() - 1;
      return absl::OkStatus();
    }
    out->push_back(e);
    ++taken;
    bytes += e.next->key().size() + e.next->ValueBytes() + (e.prev ? e.prev->ValueBytes() : 0);
  }
  return absl::OkStatus();
}

}  // namespace meshkv
