// Waiting for a condition with a deadline, instead of sleeping for a fixed
// time.
//
//   ASSERT_TRUE(WaitFor([&] { return node.synced(); }, absl::Seconds(10)));
#ifndef MESHKV_TESTS_UTIL_WAIT_H_
#define MESHKV_TESTS_UTIL_WAIT_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace meshkv::testing {

// Polls `condition` until it holds (true) or `timeout` passes (false).
template <typename Condition>
bool WaitFor(Condition condition, absl::Duration timeout = absl::Seconds(10),
             absl::Duration poll = absl::Milliseconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(poll);
  }
}

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_WAIT_H_
