// LoadGenerator: drives Get, Set, mixed and List load at one or more servers
// over gRPC's asynchronous completion-queue API.
//
// Concurrency design: `connections` channels (each its own TCP connection,
// spread round-robin over the addresses) are split among `threads` workers.
// A worker owns a CompletionQueue, its channels' request slots (`inflight`
// per channel), its histograms and counters: nothing is shared on the request
// path but two atomics of the run plan (the request budget and, for preload,
// the next key). Results are merged after the workers are joined.
//
// Closed loop (rate 0): each slot sends its next request as soon as the last
// one is answered. Open loop (rate > 0): each worker schedules rate/threads
// requests per second at fixed intervals; a request that finds no free slot
// waits, and its latency counts from when it was due, not sent (no
// coordinated omission) -- or from when the worker woke to send it, if later:
// timer wake-ups come up to a millisecond late, and that is not the server's.
//
//   LoadGenerator gen(config);
//   if (auto s = gen.Connect(absl::Seconds(10)); !s.ok()) ...
//   RunStats stats = gen.Run(Workload::kGet, /*stamp_values=*/false);
//
// Not thread-safe: call from one thread.
#ifndef MESHKV_TOOLS_BENCH_LOAD_GENERATOR_H_
#define MESHKV_TOOLS_BENCH_LOAD_GENERATOR_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/bench/bench_config.h"
#include "tools/bench/histogram.h"

namespace meshkv::bench {

// Monotonic nanoseconds (steady_clock): request times, value stamps.
int64_t NowNs();

struct RunStats {
  // Successful requests that ended inside the measured window (or, with a
  // request budget, that were scheduled after the warmup).
  LatencyHistogram latency;
  LatencyHistogram get_latency;
  LatencyHistogram set_latency;
  uint64_t ops = 0;
  uint64_t gets = 0;
  uint64_t sets = 0;
  uint64_t lists = 0;
  uint64_t found = 0;         // gets that found their key
  uint64_t list_entries = 0;  // entries received by list requests
  uint64_t errors = 0;
  std::array<uint64_t, 17> errors_by_code{};  // by grpc::StatusCode
  std::string first_error;
  // Open loop: scheduled requests never sent because no slot came free in
  // time (the servers did not keep up with the rate).
  uint64_t unsent = 0;
  // Successful Sets sent inside the measured window (watch-latency expects an
  // event for each).
  uint64_t stamped_ok = 0;
  double seconds = 0;             // length of the measured window
  double client_cpu_seconds = 0;  // this process, user + system, over the window

  double throughput() const { return seconds > 0 ? ops / seconds : 0; }
  void Merge(const RunStats& other);
};

class LoadGenerator {
 public:
  // `config` must have passed Validate().
  explicit LoadGenerator(BenchConfig config);
  ~LoadGenerator();
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Opens the channels and waits until every one is connected.
  absl::Status Connect(absl::Duration timeout);

  // Writes keys [0, n) once each, closed loop, as fast as the servers answer.
  // With several addresses key k goes to address k % addrs.size().
  RunStats Preload(uint64_t n);

  // Warmup, then the measured window (duration, or until `requests` measured
  // requests). get, set, mixed or list. With `stamp_values`, every Set's value
  // starts with its send time (NowNs(), 8 bytes little-endian). The warmup
  // starts at `start_ns` (NowNs() clock), or now when 0.
  RunStats Run(Workload workload, bool stamp_values, int64_t start_ns = 0);

  struct Connection;
  struct Plan;

 private:
  RunStats Execute(Plan* plan, int slots_per_connection);

  const BenchConfig config_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_LOAD_GENERATOR_H_
