// DurabilityLog: the commit observer that records every change the store
// commits in the node's data directory (storage/data_dir.h), so that the
// dictionary survives a restart.
//
// Under the store's write lock it only does what must follow the store's
// order: it reserves the revision, encodes the key's whole new state and
// queues it. One log thread drains the queue in batches, in order: one
// engine write per batch and, with --fsync=always, one fsync per batch
// (group commit: every change queued while the previous batch was being
// written and synced shares the next fsync). A local write registers a
// completion that runs once every change queued up to it is durable per
// --fsync (Node calls WhenDurable after the store lock is released);
// merged records are queued the same way but nobody waits for them.
//
//   DurabilityLog log(data_dir.get());
//   Node node(options, env, {&handoff, &log}, &log);
//   const DurabilityLog::Seq since = log.enqueued();
//   ... a write that commits ...
//   log.WhenDurable(since, [](absl::Status s) { /* acknowledge or fail */ });
//
// A failed append (a full disk) leaves the batch's changes in memory only:
// every write waiting on that batch fails with the engine's code (the client
// must treat it as unknown, as after a timeout; the change may still
// spread), and each key is written again with its next change.
//
// Thread-safe. Completions run on the log thread (or inline when already
// durable), never under the store lock, and must not block.
#ifndef MESHKV_SERVER_DURABILITY_LOG_H_
#define MESHKV_SERVER_DURABILITY_LOG_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "storage/data_dir.h"
#include "store/commit_observer.h"

namespace meshkv {

class DurabilityLog final : public CommitObserver {
 public:
  // Changes are numbered 1, 2, ... in the order the store commits them.
  using Seq = uint64_t;
  using Done = absl::AnyInvocable<void(absl::Status) &&>;

  // `dir` is not owned and must outlive the log. Starts the log thread.
  // `max_queued_bytes` bounds the changes waiting for the disk (queued or
  // being written; each counts its key and value plus 1 KiB for the call
  // that waits on it): past it the store's commits wait (the disk sets the
  // pace), and so does every writer.
  explicit DurabilityLog(storage::DataDir* dir, size_t max_queued_bytes = 64 << 20);
  // Writes what is queued, runs every completion, stops the log thread. No
  // commit may arrive meanwhile.
  ~DurabilityLog() override;
  DurabilityLog(const DurabilityLog&) = delete;
  DurabilityLog& operator=(const DurabilityLog&) = delete;

  void OnCommit(const Commit& c) override;
  void OnTombstonesCollected(const std::vector<std::string>& keys) override;

  // The last change queued: taken before a write, it is the `since` that
  // WhenDurable waits past.
  Seq enqueued() const { return enqueued_.load(std::memory_order_acquire); }
  // Runs `done` once every change queued so far is durable per --fsync, with
  // an error when a change after `since` failed (conservatively: another
  // writer's change written in the same batch fails this write too).
  void WhenDurable(Seq since, Done done);
  // WhenDurable, blocking.
  absl::Status WaitDurable(Seq since);

  // Batches written so far, for tests and the benchmark's curiosity.
  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }

 private:
  struct Change {
    Seq seq;
    storage::EngineOp op;
    absl::Status failed;  // could not be encoded or reserved: no op
  };
  struct Waiter {
    Seq since;
    Seq target;
    Done done;
  };
  struct Completion {
    absl::Status status;
    Done done;
  };

  void Enqueue(storage::EngineOp op, absl::Status failed) ABSL_LOCKS_EXCLUDED(mu_);
  void Run();
  // Writes (and syncs, per the mode) one batch; OK or its error.
  absl::Status WriteBatch(std::vector<Change>& batch, std::vector<storage::EngineOp>& ops,
                          bool* had_forgets);
  absl::Status StatusFor(const Waiter& w) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  storage::DataDir* const dir_;  // Not owned.
  const size_t max_queued_bytes_;
  std::atomic<Seq> enqueued_{0};
  std::atomic<uint64_t> batches_{0};

  mutable absl::Mutex mu_;
  std::vector<Change> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t writing_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of the batch being written
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Every change through done_ has been written (or failed) and synced per
  // the mode; waiters are in target order (targets are taken under mu_).
  Seq done_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  // The last change of the newest failed batch, and why it failed.
  Seq last_failed_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_failure_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;  // last: starts after everything above
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_DURABILITY_LOG_H_
