#include "tests/netns/netns.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace meshkv::testing {

Network::Network(int nodes) : nodes_(nodes), id_(getpid() % 200 + 20) {
  const std::string sw = absl::StrCat("mkv", id_, "sw");
  auto run = [&](const std::string& c) {
    if (status_.ok()) status_ = Sh(c);
  };
  run(absl::StrCat("ip netns add ", sw));
  run(absl::StrCat("ip -n ", sw, " link add br0 type bridge"));
  run(absl::StrCat("ip -n ", sw, " link set br0 up"));
  for (int i = 0; i < nodes_; ++i) {
    const std::string veth = absl::StrCat("mkv", id_, "a", i);
    run(absl::StrCat("ip netns add ", Ns(i)));
    run(absl::StrCat("ip link add ", veth, " type veth peer name eth0 netns ", Ns(i)));
    run(absl::StrCat("ip link set ", veth, " netns ", sw));
    run(absl::StrCat("ip -n ", sw, " link set ", veth, " master br0 up"));
    run(absl::StrCat("ip -n ", Ns(i), " addr add ", Ip(i), "/24 dev eth0"));
    run(absl::StrCat("ip -n ", Ns(i), " link set eth0 up"));
    run(absl::StrCat("ip -n ", Ns(i), " link set lo up"));
  }
  // The test's own namespace joins the bridge at .254.
  const std::string host = absl::StrCat("mkv", id_, "h");
  run(absl::StrCat("ip link add ", host, " type veth peer name ", host, "s netns ", sw));
  run(absl::StrCat("ip -n ", sw, " link set ", host, "s master br0 up"));
  run(absl::StrCat("ip addr add 10.77.", id_, ".254/24 dev ", host));
  run(absl::StrCat("ip link set ", host, " up"));
}

Network::~Network() {
  // Best effort: whatever is already gone is fine.
  for (int i = 0; i < nodes_; ++i) {
    Sh(absl::StrCat("ip netns del ", Ns(i), " 2>/dev/null")).IgnoreError();
  }
  Sh(absl::StrCat("ip netns del mkv", id_, "sw 2>/dev/null")).IgnoreError();
  Sh(absl::StrCat("ip link del mkv", id_, "h 2>/dev/null")).IgnoreError();
}

std::string Network::Ns(int node) const { return absl::StrCat("mkv", id_, "n", node); }
std::string Network::Ip(int node) const { return absl::StrCat("10.77.", id_, ".", node + 1); }

std::vector<std::string> Network::Exec(int node) const { return {"ip", "netns", "exec", Ns(node)}; }

absl::Status Network::Cut(int node, const std::vector<int>& others) {
  for (int o : others) {
    for (const char* rule : {"INPUT -s ", "OUTPUT -d "}) {
      absl::Status s =
          Sh(absl::StrCat("ip netns exec ", Ns(node), " iptables -A ", rule, Ip(o), " -j DROP"));
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Network::Lose(int node, int percent) {
  return Sh(absl::StrCat("ip netns exec ", Ns(node),
                         " iptables -A INPUT -m statistic --mode random --probability ",
                         percent / 100.0, " -j DROP"));
}

absl::Status Network::Heal() {
  for (int i = 0; i < nodes_; ++i) {
    absl::Status s = Sh(absl::StrCat("ip netns exec ", Ns(i), " iptables -F"));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Network::Sh(const std::string& command) {
  const int rc = std::system(command.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat("`", command, "` failed: ", rc));
  return absl::OkStatus();
}

}  // namespace meshkv::testing
