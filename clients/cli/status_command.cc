// `status`: meshkv.v1.Cluster/Status, the node and its mesh connections.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"

namespace meshkv::cli {
namespace {

std::string Rtt(const meshkv::v1::PeerStatus& p) {
  return p.rtt_ms() > 0 ? absl::StrFormat("%.2f ms", p.rtt_ms()) : "-";
}

std::string Up(const meshkv::v1::PeerStatus& p, int64_t now_ms) {
  return p.connected_since_ms() > 0
             ? absl::StrFormat("%ds", (now_ms - p.connected_since_ms()) / 1000)
             : "-";
}

// -w table: the node in one table, its peers in another.
std::string StatusTables(const meshkv::v1::StatusResponse& resp) {
  std::string out = FormatTable(
      {"NODE", "MESH", "CLUSTER", "LEASING", "VERSION", "STATE", "REVISION", "KEYS", "PEERS"},
      {{resp.node_id(), resp.advertise_addr(), resp.cluster(), resp.leasing() ? "on" : "off",
        resp.version(), resp.synced() ? "synced" : "syncing", absl::StrCat(resp.revision()),
        absl::StrCat(resp.keys()), absl::StrCat(resp.peers_size())}});
  if (resp.peers_size() == 0) return out;
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  std::vector<std::vector<std::string>> rows;
  for (const meshkv::v1::PeerStatus& p : resp.peers()) {
    rows.push_back({p.node_id().empty() ? "?" : p.node_id(), p.address(), p.state(),
                    p.outbound() ? "out" : "in", Rtt(p), Up(p, now_ms)});
  }
  return out + FormatTable({"PEER", "ADDRESS", "STATE", "DIR", "RTT", "UP"}, rows);
}

}  // namespace

int RunStatus(const Invocation&, Session& session) {
  meshkv::v1::StatusResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.cluster().Status(&ctx, meshkv::v1::StatusRequest(), &resp);
      !s.ok()) {
    return session.Fail(s);
  }
  if (session.output() != OutputFormat::kSimple) {
    PrintResult(
        session, resp, [] { return std::string(); }, [&] { return StatusTables(resp); });
    return kExitOk;
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
    const std::string rtt = Rtt(p);
    const std::string up = Up(p, now_ms);
    out << absl::StrFormat("  %-24s %-24s %-12s %-4s %10s %8s\n",
                           p.node_id().empty() ? "?" : p.node_id(), p.address(), p.state(),
                           p.outbound() ? "out" : "in", rtt, up);
  }
  return kExitOk;
}

}  // namespace meshkv::cli
