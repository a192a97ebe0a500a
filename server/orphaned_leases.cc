#include "server/orphaned_leases.h"

#include <utility>

namespace meshkv {

bool IsConnected(const peer::MeshSnapshot& mesh, const std::string& node_id) {
  for (const peer::PeerStatus& p : mesh.peers) {
    if (p.node_id == node_id && p.state == "established") return true;
  }
  return false;
}

OrphanedLeases FindOrphanedLeases(const Store& store, const peer::MeshSnapshot& mesh) {
  OrphanedLeases out;
  for (LeaseHolder& h : store.LeaseHolders()) {
    if (IsConnected(mesh, h.node_id)) continue;
    out.keys += h.keys;
    out.nodes.push_back(std::move(h));
  }
  return out;
}

Metrics::Collector OrphanedLeaseCollector(const Store* store,
                                          std::function<peer::MeshSnapshot()> mesh) {
  return [store, mesh = std::move(mesh)] {
    const OrphanedLeases orphaned = FindOrphanedLeases(*store, mesh());
    std::vector<prometheus::MetricFamily> out;
    out.push_back(GaugeFamily("meshkv_lease_orphaned_keys",
                              "Keys under a running lease of a node this node is not connected "
                              "to (see meshkv leases release)."));
    AddSample(&out.back(), static_cast<double>(orphaned.keys));
    out.push_back(GaugeFamily("meshkv_lease_orphaned_nodes",
                              "Nodes holding running leases here that this node is not "
                              "connected to."));
    AddSample(&out.back(), static_cast<double>(orphaned.nodes.size()));
    return out;
  };
}

}  // namespace meshkv
