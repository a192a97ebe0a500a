// RunBench: everything meshkv-bench does once its flags are parsed: connect,
// preload, run the workload (or watch-latency, or wait-serving), print a
// summary and write the JSON report.
#ifndef MESHKV_TOOLS_BENCH_BENCH_RUNNER_H_
#define MESHKV_TOOLS_BENCH_BENCH_RUNNER_H_

#include <string>

#include "tools/bench/bench_config.h"

namespace meshkv::bench {

// Returns the process exit code: 0 when the run completed (errors from the
// servers are reported, not fatal), 1 when it could not run.
int RunBench(BenchConfig config, const std::string& json_path, bool quiet);

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_BENCH_RUNNER_H_
