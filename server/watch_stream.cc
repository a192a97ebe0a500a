#include "server/watch_stream.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/convert.h"

namespace meshkv {
namespace {

WatchFilter FilterOf(meshkv::v1::WatchRequest::Filter f) {
  switch (f) {
    case meshkv::v1::WatchRequest::UPDATES:
      return WatchFilter::kUpdates;
    case meshkv::v1::WatchRequest::DELETES:
      return WatchFilter::kDeletes;
    default:
      return WatchFilter::kAll;
  }
}

}  // namespace

absl::Status ValidateWatchRequest(const meshkv::v1::WatchRequest& request) {
  const uint32_t progress = request.progress_notify_ms();
  if (progress != 0 && progress < kMinProgressNotifyMs) {
    return absl::InvalidArgumentError(absl::StrCat("progress_notify_ms ", progress,
                                                   " is under the minimum of ",
                                                   kMinProgressNotifyMs, " (0 turns it off)"));
  }
  if (!meshkv::v1::WatchRequest::Filter_IsValid(request.filter())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown watch filter ", request.filter(), " (ALL, UPDATES or DELETES)"));
  }
  return absl::OkStatus();
}

WatchStream* WatchStream::Start(const Store* store, WatchHub* hub, const WatchOptions& options,
                                const WatchObserver* observer,
                                const meshkv::v1::WatchRequest& request, StreamSlots::Slot slot) {
  auto* stream = new WatchStream(store, hub, options, observer, request, std::move(slot));
  stream->Begin();
  return stream;
}

WatchStream::WatchStream(const Store* store, WatchHub* hub, const WatchOptions& options,
                         const WatchObserver* observer, const meshkv::v1::WatchRequest& request,
                         StreamSlots::Slot slot)
    : store_(store),
      hub_(hub),
      options_(options),
      observer_(observer),
      prefix_(request.prefix()),
      start_revision_(request.start_revision()),
      prev_value_(request.prev_value()),
      keys_only_(request.keys_only()),
      filter_(FilterOf(request.filter())),
      progress_every_(absl::Milliseconds(request.progress_notify_ms())),
      slot_(std::move(slot)) {}

void WatchStream::Begin() {
  if (observer_ && observer_->on_stream_count) observer_->on_stream_count(+1);
  // Register before reading the revision to start from, so that no change
  // falls between the two.
  const bool added = hub_->Add(this, progress_every_);
  absl::MutexLock lock(&mu_);
  registered_ = added;
  if (!added) {
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
    return;
  }
  if (finished_) return;  // cancelled or shut down since Add()
  absl::StatusOr<WatchCursor> cursor = WatchCursor::Open(store_, prefix_, start_revision_, filter_);
  if (!cursor.ok()) {
    FinishLocked(ToGrpcStatus(cursor.status()));
    return;
  }
  cursor_ = *std::move(cursor);
  response_.set_created(true);
  response_.set_revision(cursor_->revision());
  writing_ = true;
  StartWrite(&response_);
  begun_ = true;
}

bool WatchStream::PumpLocked() {
  if (writing_ || finished_) return false;
  std::vector<WatchEvent> events;
  if (!cursor_->Next(options_.max_batch, options_.max_batch_bytes, &events).ok()) {
    // The history moved past a live stream: it fell behind.
    if (observer_ && observer_->on_cut_off) observer_->on_cut_off();
    FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "watcher fell behind the change history; list and watch again"));
    return false;
  }
  if (events.empty()) return false;
  response_.Clear();
  response_.set_revision(cursor_->revision());
  for (const WatchEvent& e : events) {
    ToEvent(e, /*with_values=*/!keys_only_, prev_value_, response_.add_events());
  }
  if (observer_ && observer_->on_events_sent) observer_->on_events_sent(events.size());
  writing_ = true;
  sent_since_progress_ = true;
  StartWrite(&response_);
  return true;
}

void WatchStream::OnProgress() {
  absl::MutexLock lock(&mu_);
  if (finished_ || !begun_ || writing_) return;
  // A stream that sent events since the last call is not idle.
  if (std::exchange(sent_since_progress_, false)) return;
  // Read up to the store's head first: the revision sent then covers every
  // change so far, and events found go out instead of the notification.
  if (PumpLocked() || finished_) return;
  response_.Clear();
  response_.set_revision(cursor_->revision());
  writing_ = true;
  StartWrite(&response_);
}

void WatchStream::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  Finish(status);
}

void WatchStream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) {
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "watch stream broken"));
    return;
  }
  PumpLocked();
}

void WatchStream::OnAdvance(uint64_t head) {
  absl::MutexLock lock(&mu_);
  // Until Begin() has set the cursor, the created response's completion
  // will catch up instead.
  if (finished_ || !begun_) return;
  if (writing_) {
    // The stream may have read past `head` already: notifications trail the
    // history they announce.
    const uint64_t lag = cursor_->LagBehind(head);
    if (lag > options_.max_lag) {
      if (observer_ && observer_->on_cut_off) observer_->on_cut_off();
      FinishLocked(
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       absl::StrCat("watcher is ", lag, " revisions behind (limit ",
                                    options_.max_lag, "); read faster, or list and watch again")));
    }
    return;
  }
  PumpLocked();
}

void WatchStream::OnShutdown() {
  absl::MutexLock lock(&mu_);
  FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
}

void WatchStream::OnCancel() {
  absl::MutexLock lock(&mu_);
  FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
}

void WatchStream::OnDone() {
  bool registered;
  {
    absl::MutexLock lock(&mu_);
    registered = registered_;
  }
  // After Remove() returns the dispatcher will not call this stream again.
  if (registered) hub_->Remove(this);
  if (observer_ && observer_->on_stream_count) observer_->on_stream_count(-1);
  delete this;
}

}  // namespace meshkv
