// Probes of a running meshkv-server for tests: its /metrics text, one sample
// of it, and the peers its Cluster/Status reports.
//
//   double n = SampleOf(ScrapeMetrics(node.metrics_port()), "meshkv_store_keys");
//   EXPECT_THAT(PeersOf(node), UnorderedElementsAre("n2", "n3"));
#ifndef MESHKV_TESTS_UTIL_NODE_PROBE_H_
#define MESHKV_TESTS_UTIL_NODE_PROBE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "meshkv/v1/cluster.grpc.pb.h"
#include "tests/util/server_process.h"

namespace meshkv::testing {

// GET /metrics from 127.0.0.1:port ("" when unreachable).
inline std::string ScrapeMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string req = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
        out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

// The value of the sample written exactly `sample` (name and labels) in a
// scrape; -1 when absent.
inline double SampleOf(const std::string& metrics, const std::string& sample) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::ConsumePrefix(&line, sample) || !absl::ConsumePrefix(&line, " ")) continue;
    double v;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return -1;
}

// The peers of `node` as its Cluster/Status reports them (none when it
// does not answer).
inline std::vector<std::string> PeersOf(const ServerProcess& node) {
  auto stub = meshkv::v1::Cluster::NewStub(node.Channel());
  grpc::ClientContext ctx;
  meshkv::v1::StatusResponse resp;
  std::vector<std::string> peers;
  if (!stub->Status(&ctx, meshkv::v1::StatusRequest(), &resp).ok()) return peers;
  for (const auto& p : resp.peers()) peers.push_back(p.node_id());
  return peers;
}

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_NODE_PROBE_H_
