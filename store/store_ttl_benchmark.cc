// What a time to live costs the store, per operation, in thread CPU time
// (which does not depend on who else uses the machine's cores):
//   - Set and Get of keys without a ttl, and with one;
//   - the sweep of an expired key (ExpireDue), everything included: its
//     expired form, the indexes, the history event, the observers.
// Usage: store_ttl_benchmark [keys]   (default 200000)
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "store/store.h"

namespace meshkv {
namespace {

double ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template <typename F>
double NsPerOp(size_t n, F f) {
  const double t0 = ThreadCpuNs();
  for (size_t i = 0; i < n; ++i) f(i);
  return (ThreadCpuNs() - t0) / static_cast<double>(n);
}

void Run(size_t n) {
  ManualClock clock(1'700'000'000'000);
  StoreOptions o;
  o.node_id = "bench";
  o.history_max_events = 10000;
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i) keys.push_back(absl::StrCat("key/", 1000000 + i));
  const std::string value(100, 'v');
  for (const bool ttl : {false, true}) {
    Store s(o, &clock);
    const absl::Duration d = ttl ? absl::Seconds(1) : absl::ZeroDuration();
    const double set = NsPerOp(n, [&](size_t i) {
      if (!s.Set(keys[i], ValueView::Bytes(value), {}, d).ok()) std::abort();
    });
    size_t found = 0;
    const double get =
        NsPerOp(n, [&](size_t i) { found += s.Get(keys[(i * 7919) % n]).has_value(); });
    std::printf("%-8s set %6.0f ns  get %6.0f ns  (found %zu)\n", ttl ? "ttl" : "no ttl", set, get,
                found);
    if (ttl) {
      clock.Advance(absl::Seconds(10));  // past every expiry (the HLC runs ahead in a burst)
      const double t0 = ThreadCpuNs();
      const size_t swept = s.ExpireDue(SIZE_MAX);
      const double per = (ThreadCpuNs() - t0) / static_cast<double>(swept);
      std::printf("sweep    %6.0f ns per expired key (%zu keys): %.0f expiries per core-second\n",
                  per, swept, 1e9 / per);
    }
  }
}

}  // namespace
}  // namespace meshkv

int main(int argc, char** argv) {
  meshkv::Run(argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000);
  return 0;
}
