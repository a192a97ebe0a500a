// DurabilityLog: the commit observer that records every change the store
// commits in the node's data directory (storage/data_dir.h), so that the
// dictionary survives a restart.
//
// Under the store's write lock it appends the key's whole new state (one
// unsynced engine write, in revision order) and reserves the revision; a
// local write then waits, after the lock is released, until its append is
// durable per --fsync (Node calls WaitDurable before acknowledging). Merged
// records are appended the same way but nobody waits for them: a later
// sync covers them, and a peer still holds them meanwhile.
//
//   DurabilityLog log(data_dir.get());
//   Node node(options, env, {&handoff, &log}, &log);
//
// A failed append (a full disk) leaves the change in memory only: the write
// that made it fails (the client must treat it as unknown, as after a
// timeout; the change may still spread), and the key is written again with
// its next change. Thread-safe.
#ifndef MESHKV_SERVER_DURABILITY_LOG_H_
#define MESHKV_SERVER_DURABILITY_LOG_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "storage/data_dir.h"
#include "store/commit_observer.h"

namespace meshkv {

class DurabilityLog final : public CommitObserver {
 public:
  // `dir` is not owned and must outlive the log.
  explicit DurabilityLog(storage::DataDir* dir) : dir_(dir) {}

  void OnCommit(const Commit& c) override;
  void OnTombstonesCollected(const std::vector<std::string>& keys) override;

  // A position in the sequence of appends, taken before a write: the write
  // then waits for the appends made after it.
  uint64_t attempts() const { return attempts_.load(); }
  // Blocks until everything appended so far is durable per the fsync mode.
  // An error when an append after `since` failed (conservatively: another
  // writer's failure fails this write too), or the sync did.
  absl::Status WaitDurable(uint64_t since);

 private:
  storage::DataDir* const dir_;  // Not owned.
  // Calls of OnCommit; attempts_ is written under the store's lock.
  std::atomic<uint64_t> attempts_{0};
  std::atomic<storage::DataDir::Token> appended_{0};
  absl::Mutex mu_;
  uint64_t last_failed_attempt_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_DURABILITY_LOG_H_
