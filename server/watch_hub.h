// WatchHub: wakes Watch streams when the store's revision moves, without
// making writers wait for watchers.
//
// The hub is one of the store's commit observers: each commit records the
// new revision and, if no dispatch is pending and anyone is watching,
// schedules one on the Env's worker (a ManualEnv's queue in the simulator),
// nothing more. A dispatch hands the newest revision to every registered
// stream, which reads its events from the store's history itself (streams
// are cursors into one shared log, so a slow stream holds no queue of its
// own). Revisions committed while a dispatch is pending are coalesced into
// it.
//
// Progress notifications: a stream added with a progress interval is also
// kept in a queue ordered by when its next notification is due; Tick()
// (the node's maintenance loop calls it every 100 ms) calls OnProgress on
// the streams that are due and re-queues them, so an idle stream costs
// nothing between its notifications, whatever the number of streams.
//
// Concurrency: mu_ guards the stream set and is held while a dispatch calls
// streams, so Remove() returning means the hub will not call that stream
// again. notify_mu_ guards the revision and the pending flag; the store
// calls OnCommit under its own lock, so notify_mu_ is innermost. Lock order:
// anchor_->mu, WatchHub::mu_, a stream's own lock, the store's lock,
// notify_mu_. A dispatch scheduled before the hub is destroyed finds the
// hub gone through the anchor and does nothing.
//
// Thread-safe.
#ifndef MESHKV_SERVER_WATCH_HUB_H_
#define MESHKV_SERVER_WATCH_HUB_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "store/commit_observer.h"

namespace meshkv {

class WatchHub final : public CommitObserver {
 public:
  class Stream {
   public:
    virtual ~Stream() = default;
    // On the Env's worker: the store's newest revision is `head`.
    virtual void OnAdvance(uint64_t head) = 0;
    // The hub is shutting down: end the stream now.
    virtual void OnShutdown() = 0;
    // Its progress interval has passed since it was added or last called.
    virtual void OnProgress() {}
  };

  explicit WatchHub(Env* env);  // Not owned; must outlive the hub.
  ~WatchHub() override;         // Shutdown(); a pending dispatch is dropped.

  // Registers a stream; false after Shutdown() (the stream should end).
  // With a positive `progress_every`, OnProgress is called that often.
  bool Add(Stream* s, absl::Duration progress_every = absl::ZeroDuration());
  // Unregisters; blocks while a dispatch is calling `s`.
  void Remove(Stream* s);
  // Cheap and non-blocking for writers: the store's revision is now `revision`.
  void Notify(uint64_t revision);
  void OnCommit(const Commit& commit) override { Notify(commit.revision); }
  // Calls OnProgress on the streams whose notification is due by the Env's
  // clock; cheap when none is.
  void Tick();
  // Ends every stream; later Add() calls fail. Idempotent.
  void Shutdown();

  size_t size() const;

 private:
  // What a scheduled dispatch holds: the hub, or null once it is destroyed.
  struct Anchor {
    absl::Mutex mu;
    WatchHub* hub ABSL_GUARDED_BY(mu);
  };

  // Schedules a dispatch unless one is pending.
  void ScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(notify_mu_);
  void Dispatch();

  // Constant after construction.
  Env* const env_;  // Not owned.
  const std::shared_ptr<Anchor> anchor_;

  mutable absl::Mutex mu_;
  absl::flat_hash_set<Stream*> streams_ ABSL_GUARDED_BY(mu_);
  // Streams with progress notifications, and the same as (due, stream),
  // earliest first. Times in ms on the Env's clock.
  struct Progress {
    int64_t every_ms;
    int64_t due_ms;
  };
  absl::flat_hash_map<Stream*, Progress> progress_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<std::pair<int64_t, Stream*>> progress_due_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex notify_mu_;
  uint64_t head_ ABSL_GUARDED_BY(notify_mu_) = 0;
  uint64_t dispatched_ ABSL_GUARDED_BY(notify_mu_) = 0;  // the head streams last heard
  size_t watching_ ABSL_GUARDED_BY(notify_mu_) = 0;      // streams_.size()
  bool scheduled_ ABSL_GUARDED_BY(notify_mu_) = false;   // a dispatch is pending
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_WATCH_HUB_H_
