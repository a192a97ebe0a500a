// WriteConcern: the waits of writes that asked for min_replicas > 0: other
// nodes must hold the write before the RPC answers (docs/design.md, "Write
// concern").
//
// A write's life with a concern of n:
//   1. Admit(n) before anything is written: INVALID_ARGUMENT past
//      kMaxMinReplicas; UNAVAILABLE at once when this node knows it cannot
//      be met (no neighbour connected, or fewer other nodes known than n),
//      so a refused write changes nothing.
//   2. The write commits under a Marking: while one is alive, every local
//      write is flooded with Write.ack_wanted (ack_wanted(), read by the
//      replication hand-off under the store's lock), so holders answer at
//      once. Writes nobody waits for are flooded unmarked and cause no Ack.
//   3. Wait(seq, n, ...) with the origin_seq the write took (or a later
//      one: a holder's mark covers every earlier write of this node): done
//      runs with OK once n holders' marks (Acked(), from the mesh thread)
//      reach seq; DEADLINE_EXCEEDED, naming how many held it, shortly
//      before the client's deadline (so that the message, not gRPC's own,
//      reaches it); CANCELLED when the client goes; RESOURCE_EXHAUSTED at
//      once past max_waits. The write is never rolled back.
//
//   WriteConcern concern(options, {seq_fn, established_fn, known_fn}, &registry);
//   if (Status s = concern.Admit(2); !s.ok()) return s;
//   { WriteConcern::Marking m(&concern); commit(); seq = concern.last_origin_seq(); }
//   concern.Wait(seq, 2, deadline, cancelled, std::move(done));
//
// Thread-safe. One timer thread of its own ends waits at their deadlines
// (and notices cancelled clients, polling every kCancelPoll while any
// waits); `done` runs on that thread, on the mesh thread (Acked) or inline
// (Wait), never under the lock, and must be quick.
#ifndef MESHKV_SERVER_WRITE_CONCERN_H_
#define MESHKV_SERVER_WRITE_CONCERN_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace meshkv {

struct WriteConcernOptions {
  // Waits in progress at once; more answer RESOURCE_EXHAUSTED.
  size_t max_waits = 10000;
  // How long a write waits when its client set no deadline.
  absl::Duration max_wait = absl::Seconds(30);
};

// A write's concern, as the RPC asked for it.
struct ConcernRequest {
  uint32_t min_replicas = 0;
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;  // may be empty
};

class WriteConcern {
 public:
  // More holders than a cluster can have (the mesh remembers at most
  // AckTracker::kMaxHolders of them): INVALID_ARGUMENT.
  static constexpr uint32_t kMaxMinReplicas = 1023;
  static constexpr absl::Duration kCancelPoll = absl::Milliseconds(100);

  // What it reads of the mesh; each must be thread-safe and quick.
  struct MeshView {
    std::function<uint64_t()> last_origin_seq;  // of the last local write handed to the mesh
    std::function<int()> established_peers;
    std::function<int()> known_peers;
  };
  using Done = absl::AnyInvocable<void(absl::Status) &&>;

  // `registry` (may be null) gets the meshkv_write_concern_* metrics.
  WriteConcern(WriteConcernOptions options, MeshView mesh, prometheus::Registry* registry);
  // Fails every wait left with UNAVAILABLE and stops the timer thread.
  ~WriteConcern();
  WriteConcern(const WriteConcern&) = delete;
  WriteConcern& operator=(const WriteConcern&) = delete;

  // Counts a write of concern `min_replicas` (0 too) and says whether it
  // may go ahead (see the top).
  absl::Status Admit(uint32_t min_replicas);

  // While alive, local writes are flooded with ack_wanted.
  class Marking {
   public:
    explicit Marking(WriteConcern* c) : c_(c) { c_->marking_.fetch_add(1); }
    ~Marking() { c_->marking_.fetch_sub(1); }
    Marking(const Marking&) = delete;
    Marking& operator=(const Marking&) = delete;

   private:
    WriteConcern* const c_;
  };
  bool ack_wanted() const { return marking_.load(std::memory_order_acquire) > 0; }
  uint64_t last_origin_seq() const { return mesh_.last_origin_seq(); }

  void Wait(uint64_t seq, const ConcernRequest& request, Done done);

  // From the mesh: each (node ID, seq) holds every write of this node up to
  // seq. Marks only grow.
  void Acked(const std::vector<std::pair<std::string, uint64_t>>& marks);

  size_t waiting() const;

 private:
  struct Waiter {
    uint64_t seq;
    uint32_t min_replicas;
    absl::Time started;
    absl::Time reply_by;  // a little before the client's deadline
    std::function<bool()> cancelled;
    Done done;
  };
  struct Finished {
    Done done;
    absl::Status status;
  };
  using Waiters = std::list<Waiter>;

  // Holders whose mark reaches `seq`.
  uint32_t HoldersLocked(uint64_t seq) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void TimerLoop();
  // Runs the callbacks and counts the outcomes; outside mu_.
  void Finish(std::vector<Finished> finished);
  void Failed(const char* reason);

  const WriteConcernOptions options_;
  const MeshView mesh_;
  std::atomic<int> marking_{0};

  // Metrics (null without a registry); prometheus' own are thread-safe.
  prometheus::Counter* by_level_[4] = {};  // 0, 1, 2, 3+
  static constexpr const char* kFailureReasons[] = {"unreachable", "deadline", "cancelled",
                                                    "too_many_waits"};
  absl::flat_hash_map<std::string, prometheus::Counter*> failed_;  // by reason
  prometheus::Histogram* wait_seconds_ = nullptr;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  absl::flat_hash_map<std::string, uint64_t> marks_ ABSL_GUARDED_BY(mu_);
  Waiters waiters_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread timer_;  // last: starts after everything above
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_WRITE_CONCERN_H_
