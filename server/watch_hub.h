// WatchHub: wakes Watch streams when the store's revision moves, without
// making writers wait for watchers.
//
// Writers call Notify(revision) after each change; it records the revision
// and wakes the hub's dispatcher thread, nothing more. The dispatcher hands
// the newest revision to every registered stream, which reads its events
// from the store's history itself (streams are cursors into one shared log,
// so a slow stream holds no queue of its own). Revisions that arrive while
// the dispatcher is busy are coalesced into one wake-up.
//
// Concurrency: mu_ guards the stream set and is held while the dispatcher
// calls streams, so Remove() returning means the hub will not call that
// stream again. Lock order: WatchHub::mu_ before a stream's own lock;
// notify_mu_ is innermost.
//
// Thread-safe.
#ifndef MESHKV_SERVER_WATCH_HUB_H_
#define MESHKV_SERVER_WATCH_HUB_H_

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace meshkv {

class WatchHub {
 public:
  class Stream {
   public:
    virtual ~Stream() = default;
    // On the dispatcher thread: the store's newest revision is `head`.
    virtual void OnAdvance(uint64_t head) = 0;
    // The hub is shutting down: end the stream now.
    virtual void OnShutdown() = 0;
  };

  WatchHub();
  ~WatchHub();  // Shutdown(), then joins the dispatcher.

  // Registers a stream; false after Shutdown() (the stream should end).
  bool Add(Stream* s);
  // Unregisters; blocks while the dispatcher is calling `s`.
  void Remove(Stream* s);
  // Cheap and non-blocking for writers: the store's revision is now `revision`.
  void Notify(uint64_t revision);
  // Ends every stream; later Add() calls fail. Idempotent.
  void Shutdown();

  size_t size() const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  absl::flat_hash_set<Stream*> streams_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex notify_mu_;
  uint64_t head_ ABSL_GUARDED_BY(notify_mu_) = 0;
  size_t watching_ ABSL_GUARDED_BY(notify_mu_) = 0;  // streams_.size(), for Run()
  bool stop_ ABSL_GUARDED_BY(notify_mu_) = false;

  std::thread dispatcher_;  // last: starts after the fields above exist
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_WATCH_HUB_H_
