// The mesh's peers, traffic, replication and anti-entropy counters, read
// from a snapshot of the mesh at each scrape.
#ifndef MESHKV_SERVER_MESH_METRICS_H_
#define MESHKV_SERVER_MESH_METRICS_H_

#include <functional>

#include "peer/core/mesh_types.h"
#include "server/metrics.h"

namespace meshkv {

// `snapshot` is called on the scraping thread.
Metrics::Collector MeshCollector(std::function<peer::MeshSnapshot()> snapshot);

}  // namespace meshkv

#endif  // MESHKV_SERVER_MESH_METRICS_H_
