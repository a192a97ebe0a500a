// Wall-clock time, behind an interface so tests decide what time it is.
//
// The store reads the clock for HLC readings and lease expiry; tests and the
// simulator inject a ManualClock and move it forward explicitly.
//
// Thread-safe: both implementations may be read from any thread.
#ifndef MESHKV_COMMON_CLOCK_H_
#define MESHKV_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace meshkv {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;

  // The process-wide real clock. Never deleted.
  static Clock* Real();
};

// A clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  void Advance(absl::Duration d) { now_ms_.fetch_add(absl::ToInt64Milliseconds(d)); }
  void SetMs(int64_t ms) { now_ms_.store(ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace meshkv

#endif  // MESHKV_COMMON_CLOCK_H_
