// Orphaned leases: running leases held by nodes this node is not connected
// to. Such a node may have left for good (`docker kill`, a lost machine), and
// its keys then cannot be written through anyone until its leases lapse
// (--lease-duration, an hour by default) or an operator releases them
// (`meshkv leases release --node ID`, server/maintenance_service.h).
//
// "Connected" is what this node's mesh sees: an established connection to a
// neighbour. In a cluster larger than a node's degree (--max-outbound + the
// nodes that dial it), a live node that is not a neighbour shows up here too:
// ask the node whose neighbours it is (`meshkv status` on each) before
// releasing.
#ifndef MESHKV_SERVER_ORPHANED_LEASES_H_
#define MESHKV_SERVER_ORPHANED_LEASES_H_

#include <functional>
#include <string>
#include <vector>

#include "peer/core/mesh_types.h"
#include "server/metrics.h"
#include "store/store.h"

namespace meshkv {

struct OrphanedLeases {
  int64_t keys = 0;                // running leases held by nodes not connected
  std::vector<LeaseHolder> nodes;  // those nodes, by node ID
};

// Whether `node_id` has an established mesh connection with this node.
bool IsConnected(const peer::MeshSnapshot& mesh, const std::string& node_id);

// The store's lease holders that are not connected (this node excepted: it
// holds no lease of its own in LeaseHolders()).
OrphanedLeases FindOrphanedLeases(const Store& store, const peer::MeshSnapshot& mesh);

// meshkv_lease_orphaned_keys and meshkv_lease_orphaned_nodes: without a
// per-node label, so the series stay two whatever the members. The store
// must outlive the collector's registration; `mesh` is called per scrape.
Metrics::Collector OrphanedLeaseCollector(const Store* store,
                                          std::function<peer::MeshSnapshot()> mesh);

}  // namespace meshkv

#endif  // MESHKV_SERVER_ORPHANED_LEASES_H_
