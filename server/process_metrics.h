// The standard process_* metrics every official Prometheus client exports
// (client_golang's process collector), read from /proc/self at scrape time:
// CPU seconds, resident and virtual memory, open and maximum file
// descriptors, start time. A file that cannot be read leaves its metric out
// of that scrape rather than report a wrong value.
//
//   metrics.AddCollector(ProcessCollector());
#ifndef MESHKV_SERVER_PROCESS_METRICS_H_
#define MESHKV_SERVER_PROCESS_METRICS_H_

#include "server/metrics.h"

namespace meshkv {

Metrics::Collector ProcessCollector();

}  // namespace meshkv

#endif  // MESHKV_SERVER_PROCESS_METRICS_H_
