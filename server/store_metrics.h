// The store's gauges and lease counters, read from Store::Stats() at each
// scrape.
#ifndef MESHKV_SERVER_STORE_METRICS_H_
#define MESHKV_SERVER_STORE_METRICS_H_

#include "server/metrics.h"
#include "store/store.h"

namespace meshkv {

// The store must outlive the collector's registration.
Metrics::Collector StoreCollector(const Store* store);

}  // namespace meshkv

#endif  // MESHKV_SERVER_STORE_METRICS_H_
