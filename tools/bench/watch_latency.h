// WatchListener: one Watch stream (meshkv or etcd) whose events' values carry
// the time their Set was sent (LoadGenerator's stamp_values); it records the
// set-to-event latency of each.
//
// Its own thread reads the stream (synchronous API: one stream, no need for
// more). Start() returns once the server confirmed the watch, so no write
// made afterwards can be missed.
//
//   WatchListener w(config);
//   RETURN_IF_ERROR(w.Start());
//   ... sets with stamped values ...
//   w.WaitForEvents(expected, absl::Seconds(5));
//   w.Stop();
//   w.latency().ValueAtPercentile(99);
#ifndef MESHKV_TOOLS_BENCH_WATCH_LATENCY_H_
#define MESHKV_TOOLS_BENCH_WATCH_LATENCY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "tools/bench/bench_config.h"
#include "tools/bench/histogram.h"

namespace meshkv::bench {

class WatchListener {
 public:
  // Watches config.key_prefix at config.watch_addr.
  explicit WatchListener(const BenchConfig& config);
  ~WatchListener();  // Stop()s

  absl::Status Start(absl::Duration timeout);
  // Only events whose stamp lies in [from_ns, to_ns) are recorded.
  void SetWindow(int64_t from_ns, int64_t to_ns);
  // Waits until `n` events were recorded or `timeout` passed; true if all came.
  bool WaitForEvents(uint64_t n, absl::Duration timeout);
  void Stop();

  // Valid after Stop().
  const LatencyHistogram& latency() const { return latency_; }
  uint64_t events() const { return events_total_; }
  const std::string& error() const { return error_; }

 private:
  void ReadMeshkv();
  void ReadEtcd();
  void Observe(const std::string& value, int64_t now);

  // Constant after construction.
  const BenchConfig config_;
  grpc::ClientContext ctx_;
  std::thread reader_;

  std::atomic<int64_t> from_ns_{INT64_MAX};
  std::atomic<int64_t> to_ns_{INT64_MAX};

  // State below is written by the reader thread, read after it is joined
  // (and recorded_ also while waiting, under mu_).
  LatencyHistogram latency_;
  uint64_t events_total_ = 0;
  std::string error_;

  absl::Mutex mu_;
  bool created_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t recorded_ ABSL_GUARDED_BY(mu_) = 0;
  std::string start_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_WATCH_LATENCY_H_
