// The data directory's metrics, read from DataDir::Stats() at each scrape:
// disk use, appends, write errors, fsync latency, and the last start-up's
// open and load times.
#ifndef MESHKV_SERVER_STORAGE_METRICS_H_
#define MESHKV_SERVER_STORAGE_METRICS_H_

#include "server/metrics.h"
#include "storage/data_dir.h"

namespace meshkv {

// The directory must outlive the collector's registration.
Metrics::Collector StorageCollector(const storage::DataDir* dir);

}  // namespace meshkv

#endif  // MESHKV_SERVER_STORAGE_METRICS_H_
