// The bench's results, as JSON (--json) and as a short text summary.
//
// JSON layout (latencies in microseconds):
//   {"tool": "meshkv-bench", "target", "workload", "addrs", "config": {...},
//    "preload": {"keys", "seconds", "throughput", "errors"},       (--preload)
//    "result": {"requests", "errors", "errors_by_code", "seconds", "throughput",
//               "gets", "sets", "lists", "found", "list_entries", "unsent",
//               "client_cpu_seconds", "client_cpu_cores",
//               "latency_us": {"count", "min", "mean", "p50", "p90", "p99",
//                              "p999", "max"},
//               "get_latency_us", "set_latency_us", (mixed)
//               "latency_distribution_us": [[percentile, us], ...]},
//    "watch": {"expected", "recorded", "missing", "latency_us",
//              "latency_distribution_us", "error"}}             (watch-latency)
#ifndef MESHKV_TOOLS_BENCH_REPORT_H_
#define MESHKV_TOOLS_BENCH_REPORT_H_

#include <cstdint>
#include <string>

#include "tools/bench/bench_config.h"
#include "tools/bench/histogram.h"
#include "tools/bench/load_generator.h"

namespace meshkv::bench {

struct WatchResult {
  uint64_t expected = 0;  // successful stamped Sets in the window
  uint64_t recorded = 0;  // their events that arrived
  LatencyHistogram latency;
  std::string error;
};

struct Report {
  const BenchConfig* config = nullptr;  // Not owned
  const RunStats* preload = nullptr;    // Not owned; null: no preload
  const RunStats* run = nullptr;        // Not owned; null: no run
  const WatchResult* watch = nullptr;   // Not owned; null: not watch-latency
};

std::string ReportJson(const Report& report);
std::string ReportText(const Report& report);

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_REPORT_H_
