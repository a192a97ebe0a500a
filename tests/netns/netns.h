// A small network for tests: one network namespace per node, all on one
// bridge, reachable from the test's own namespace, and cut at will with
// iptables DROP inside a node's namespace.
//
//   Network net(3);                          // nodes 10.77.N.1 .. .3
//   ServerProcess a(flags, {}, net.Exec(0));
//   net.Cut(2, {0, 1});                      // node 2 hears nothing from 0, 1
//   net.Lose(1, 30);                         // node 1 drops 30% of what it receives
//   net.Heal();
//
// The bridge lives in a namespace of its own: the test host's firewall
// (Docker's FORWARD policy, bridge netfilter) never sees node traffic.
// Needs root, iproute2 and iptables. Everything is removed on destruction.
#ifndef MESHKV_TESTS_NETNS_NETNS_H_
#define MESHKV_TESTS_NETNS_NETNS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace meshkv::testing {

class Network {
 public:
  explicit Network(int nodes);
  ~Network();

  // Whether the network was built; why not, if it wasn't.
  const absl::Status& status() const { return status_; }
  std::string Ip(int node) const;
  // argv prefix that runs a command inside the node's namespace.
  std::vector<std::string> Exec(int node) const;
  // Drops everything between `node` and each of `others`, both ways.
  absl::Status Cut(int node, const std::vector<int>& others);
  // Drops `percent` of the packets `node` receives, at random (iptables'
  // statistic match: tc netem is not available everywhere).
  absl::Status Lose(int node, int percent);
  // Removes every cut and every loss.
  absl::Status Heal();

 private:
  std::string Ns(int node) const;
  absl::Status Sh(const std::string& command);

  const int nodes_;
  const int id_;  // tells concurrent runs apart: names and subnet
  absl::Status status_;
};

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_NETNS_NETNS_H_
