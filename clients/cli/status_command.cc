// `status`: meshkv.v1.Cluster/Status, the node and its mesh connections.
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"

namespace meshkv::cli {

int RunStatus(const Invocation&, Session& session) {
  meshkv::v1::StatusResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.cluster().Status(&ctx, meshkv::v1::StatusRequest(), &resp);
      !s.ok()) {
    return session.Fail(s);
  }
  std::ostream& out = session.out();
  out << absl::StrFormat("node      %s (mesh %s)\n", resp.node_id(), resp.advertise_addr());
  out << absl::StrFormat("cluster   %s, leasing %s, meshkv %s\n", resp.cluster(),
                         resp.leasing() ? "on" : "off", resp.version());
  out << absl::StrFormat("state     %s, revision %d, %d keys\n",
                         resp.synced() ? "synced" : "syncing", resp.revision(), resp.keys());
  if (resp.max_data_bytes() > 0) {
    out << absl::StrFormat("data      %d bytes of keys and values, quota %d (%.0f%%)\n",
                           resp.data_bytes(), resp.max_data_bytes(),
                           100.0 * static_cast<double>(resp.data_bytes()) /
                               static_cast<double>(resp.max_data_bytes()));
  }
  for (const std::string& w : resp.warnings()) out << "WARNING   " << w << "\n";
  if (resp.orphaned_lease_keys() > 0) {
    out << absl::StrFormat("orphaned  %d keys leased by nodes not connected:",
                           resp.orphaned_lease_keys());
    for (const meshkv::v1::LeaseHolder& h : resp.orphaned_lease_holders()) {
      out << absl::StrFormat(" %s (%d keys)", h.node_id(), h.keys());
    }
    out << " (meshkv leases release --node ID, once a node has left)\n";
  }
  out << absl::StrFormat("peers     %d\n", resp.peers_size());
  if (resp.peers_size() == 0) return kExitOk;
  out << absl::StrFormat("  %-24s %-24s %-12s %-4s %10s %8s\n", "NODE", "ADDRESS", "STATE", "DIR",
                         "RTT", "UP");
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (const meshkv::v1::PeerStatus& p : resp.peers()) {
    const std::string rtt = p.rtt_ms() > 0 ? absl::StrFormat("%.2f ms", p.rtt_ms()) : "-";
    const std::string up = p.connected_since_ms() > 0
                               ? absl::StrFormat("%ds", (now_ms - p.connected_since_ms()) / 1000)
                               : "-";
    out << absl::StrFormat("  %-24s %-24s %-12s %-4s %10s %8s\n",
                           p.node_id().empty() ? "?" : p.node_id(), p.address(), p.state(),
                           p.outbound() ? "out" : "in", rtt, up);
  }
  return kExitOk;
}

}  // namespace meshkv::cli
