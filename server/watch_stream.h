// WatchStream: the server side of one Watch RPC.
//
// The stream is a cursor into the store's change history. It first sends a
// `created` response naming the revision it starts after, then, whenever
// the hub reports a newer revision and no write is in flight, reads the next
// batch of matching events and writes it. Events therefore arrive in
// revision order, each once, and list-then-watch from a List's revision
// loses nothing.
//
// Filters (updates or deletes only) and keys-only events are the cursor's
// and the conversion's business; a stream asked for progress notifications
// is called by the hub every interval and, if it sent nothing since the
// last call, sends a response with no events carrying its cursor's
// revision (after reading up to the store's head, so the revision is the
// node's current one and every matching change up to it was delivered).
//
// A client that stops reading leaves a write in flight. When the store has
// moved more than `max_lag` revisions past the stream's cursor meanwhile,
// the stream is finished with RESOURCE_EXHAUSTED: it holds no queue, so
// memory stays bounded, and writers never wait for it.
//
// Lifetime: created by KeyValueService::Watch, deletes itself in OnDone().
// Concurrency: mu_ serialises every state change and every call into gRPC
// (StartWrite, Finish); gRPC runs reactions on its own threads, never inline
// from those calls. Called from gRPC threads and the hub's dispatcher.
#ifndef MESHKV_SERVER_WATCH_STREAM_H_
#define MESHKV_SERVER_WATCH_STREAM_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_callback.h"
#include "meshkv/v1/kv.pb.h"
#include "server/stream_slots.h"
#include "server/watch_cursor.h"
#include "server/watch_hub.h"
#include "store/store.h"

namespace meshkv {

struct WatchOptions {
  // A stream this many revisions behind with a write in flight is cut off.
  uint64_t max_lag = 10000;
  // At most this many events per response.
  size_t max_batch = 512;
  // ... and about this many bytes of keys and values (at least one event).
  size_t max_batch_bytes = 1 << 20;
};

// What a watch stream reports as it ends or sends, for metrics.
struct WatchObserver {
  std::function<void(size_t events)> on_events_sent;
  std::function<void()> on_cut_off;
  std::function<void(int delta)> on_stream_count;  // +1 on start, -1 on done
  std::function<void()> on_refused;                // --max-watch-streams reached
};

// What a WatchRequest asks of the stream; INVALID_ARGUMENT for a progress
// interval under the minimum or an unknown filter.
constexpr int64_t kMinProgressNotifyMs = 100;
absl::Status ValidateWatchRequest(const meshkv::v1::WatchRequest& request);

class WatchStream final : public grpc::ServerWriteReactor<meshkv::v1::WatchResponse>,
                          public WatchHub::Stream {
 public:
  // Starts the stream; every outcome, including refusal, ends in OnDone().
  // The stream holds `slot` (its place under the node's Watch limit) until
  // it is deleted.
  static WatchStream* Start(const Store* store, WatchHub* hub, const WatchOptions& options,
                            const WatchObserver* observer, const meshkv::v1::WatchRequest& request,
                            StreamSlots::Slot slot);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  void OnAdvance(uint64_t head) override;
  void OnShutdown() override;
  void OnProgress() override;

 private:
  WatchStream(const Store* store, WatchHub* hub, const WatchOptions& options,
              const WatchObserver* observer, const meshkv::v1::WatchRequest& request,
              StreamSlots::Slot slot);
  ~WatchStream() override = default;
  void Begin();
  // Writes the next batch of events, if any and if no write is in flight;
  // true if it started a write.
  bool PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const Store* const store_;  // Not owned.
  WatchHub* const hub_;       // Not owned.
  const WatchOptions options_;
  const WatchObserver* const observer_;  // Not owned; may be null.
  const std::string prefix_;
  const uint64_t start_revision_;
  const bool prev_value_;
  const bool keys_only_;
  const WatchFilter filter_;
  const absl::Duration progress_every_;  // zero: no progress notifications
  const StreamSlots::Slot slot_;

  // State below is protected by mu_.
  absl::Mutex mu_;
  std::optional<WatchCursor> cursor_ ABSL_GUARDED_BY(mu_);  // set by Begin()
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
  bool begun_ ABSL_GUARDED_BY(mu_) = false;                  // cursor_ set, created response sent
  bool sent_since_progress_ ABSL_GUARDED_BY(mu_) = false;    // since the last OnProgress
  meshkv::v1::WatchResponse response_ ABSL_GUARDED_BY(mu_);  // gRPC reads it while writing_
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_WATCH_STREAM_H_
