#include "server/watch_cursor.h"

#include <utility>

#include "common/status_macros.h"

namespace meshkv {

absl::StatusOr<WatchCursor> WatchCursor::Open(const Store* store, std::string prefix,
                                              uint64_t start_revision, WatchFilter filter) {
  const uint64_t from = start_revision != 0 ? start_revision : store->revision();
  // A read of nothing checks that the history still reaches back to `from`.
  std::vector<WatchEvent> none;
  uint64_t through;
  MESHKV_RETURN_IF_ERROR(store->ReadEvents(from, prefix, 0, 0, &none, &through));
  return WatchCursor(store, std::move(prefix), from, filter);
}

absl::Status WatchCursor::Next(size_t max, size_t max_bytes, std::vector<WatchEvent>* out) {
  if (filter_ == WatchFilter::kAll) {
    uint64_t through = revision_;
    MESHKV_RETURN_IF_ERROR(store_->ReadEvents(revision_, prefix_, max, max_bytes, out, &through));
    revision_ = through;
    return absl::OkStatus();
  }
  // Read batches until one holds an event the filter keeps or the history
  // has no more: a batch left empty by the filter must not look like the end.
  const size_t before = out->size();
  std::vector<WatchEvent> batch;
  while (out->size() == before) {
    batch.clear();
    uint64_t through = revision_;
    MESHKV_RETURN_IF_ERROR(
        store_->ReadEvents(revision_, prefix_, max, max_bytes, &batch, &through));
    if (through == revision_) break;  // nothing more yet
    revision_ = through;
    for (WatchEvent& e : batch) {
      if (Wants(e)) out->push_back(std::move(e));
    }
  }
  return absl::OkStatus();
}

bool WatchCursor::Wants(const WatchEvent& e) const {
  switch (filter_) {
    case WatchFilter::kAll:
      return true;
    case WatchFilter::kUpdates:
      return !e.is_delete();
    case WatchFilter::kDeletes:
      return e.is_delete();
  }
  return true;
}

}  // namespace meshkv
