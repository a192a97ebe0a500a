// Env: what a node needs from its surroundings besides sockets: the clock,
// and a place to run work off the caller's thread (LevelDB's Env is the
// model). Production code takes an Env*; tests and the simulator pass a
// ManualEnv, whose time moves and whose scheduled work runs only when told,
// so a seed replays exactly.
//
//   Env* env = Env::Default();
//   env->Schedule([] { WakeWatchers(); });  // soon, on the env's worker
//
//   ManualEnv env(1'700'000'000'000);
//   env.Schedule(f);           // queued
//   env.clock()->Advance(absl::Seconds(1));
//   env.RunPending();          // runs f (and what f scheduled) here
//
// Thread-safe: both implementations may be called from any thread.
// Schedule() is cheap and never blocks on the work it schedules, so it may
// be called under a lock the work itself takes.
#ifndef MESHKV_COMMON_ENV_H_
#define MESHKV_COMMON_ENV_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace meshkv {

class Env {
 public:
  virtual ~Env() = default;

  virtual const Clock* clock() const = 0;
  // Runs `work` later, not on the calling thread, in the order scheduled.
  virtual void Schedule(std::function<void()> work) = 0;

  // The real clock and one worker thread shared by the process. Never
  // deleted.
  static Env* Default();
};

// Time set by hand; scheduled work queued until RunPending().
class ManualEnv final : public Env {
 public:
  explicit ManualEnv(int64_t start_ms) : clock_(start_ms) {}

  const Clock* clock() const override { return &clock_; }
  ManualClock* manual_clock() { return &clock_; }
  void Schedule(std::function<void()> work) override;

  // Runs queued work on the calling thread, including work it schedules,
  // until none is left; returns how many closures ran.
  size_t RunPending();
  size_t pending() const;

 private:
  ManualClock clock_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meshkv

#endif  // MESHKV_COMMON_ENV_H_
