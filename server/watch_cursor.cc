#include "server/watch_cursor.h"

#include <utility>

#include "common/status_macros.h"

namespace meshkv {

absl::StatusOr<WatchCursor> WatchCursor::Open(const Store* store, std::string prefix,
                                              uint64_t start_revision) {
  const uint64_t from = start_revision != 0 ? start_revision : store->revision();
  // A read of nothing checks that the history still reaches back to `from`.
  std::vector<WatchEvent> none;
  uint64_t through;
  MESHKV_RETURN_IF_ERROR(store->ReadEvents(from, prefix, 0, 0, &none, &through));
  return WatchCursor(store, std::move(prefix), from);
}

absl::Status WatchCursor::Next(size_t max, size_t max_bytes, std::vector<WatchEvent>* out) {
  uint64_t through = revision_;
  MESHKV_RETURN_IF_ERROR(store_->ReadEvents(revision_, prefix_, max, max_bytes, out, &through));
  revision_ = through;
  return absl::OkStatus();
}

}  // namespace meshkv
