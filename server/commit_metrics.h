// CommitMetrics: what the node's metrics learn from the store's commits.
//
// Today one thing: the replication lag of each write flooded from a peer,
// from its origin's wall clock (the hybrid clock's physical part) to its
// commit here. Anti-entropy is left out: it may carry records written long
// ago, which would read as lag.
//
// Concurrency: OnCommit runs under the store's lock; a histogram observation
// is a few atomic operations.
#ifndef MESHKV_SERVER_COMMIT_METRICS_H_
#define MESHKV_SERVER_COMMIT_METRICS_H_

#include <algorithm>

#include "common/clock.h"
#include "server/metrics.h"
#include "store/commit_observer.h"
#include "store/hlc.h"

namespace meshkv {

class CommitMetrics final : public CommitObserver {
 public:
  // Neither is owned; both must outlive this.
  CommitMetrics(Metrics* metrics, const Clock* clock) : metrics_(metrics), clock_(clock) {}

  void OnCommit(const Commit& c) override {
    if (c.source != CommitSource::kFlooded) return;
    const uint64_t hlc = std::max(c.change.version().hlc(), c.change.delta_version().hlc());
    metrics_->ObserveReplicationLag(
        static_cast<double>(clock_->NowMs() - HybridClock::WallMs(hlc)) / 1000.0);
  }

 private:
  Metrics* const metrics_;
  const Clock* const clock_;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_COMMIT_METRICS_H_
