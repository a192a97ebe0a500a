// mesh_measure: measures the mesh with real processes on loopback, for the
// numbers quoted in docs and issue notes (not a test: nothing is asserted).
//
//   mesh_measure [nodes...]        default: 3 10
//
// For each cluster size N: frames and batches sent per write (writes spaced
// out, so that batching does not hide the fan-out), and the time from a
// write's acknowledgement at one node to its watch event at the last node
// to see it. Then: how long a fresh node takes to sync 100k keys.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tests/util/kv_client.h"
#include "tests/util/node_probe.h"
#include "tests/util/server_process.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::ServerProcess;
using Clock = std::chrono::steady_clock;

// Sum of every sample of `family` whose labels contain `filter`, from a
// node's /metrics.
double Scrape(int port, const std::string& family, const std::string& filter = "") {
  const std::string body = meshkv::testing::ScrapeMetrics(port);
  if (body.empty()) return -1;
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::StartsWith(line, family) || line.size() <= family.size()) continue;
    const char next = line[family.size()];
    if (next != '{' && next != ' ') continue;
    if (!filter.empty() && !absl::StrContains(line, filter)) continue;
    double v;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

struct Cluster {
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  std::vector<std::unique_ptr<Client>> clients;
};

Cluster StartCluster(int n) {
  Cluster c;
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> flags = {absl::StrCat("--node-id=n", i), "--log-level=warning"};
    if (i > 0) flags.push_back("--join=" + c.nodes[0]->mesh_addr());
    c.nodes.push_back(std::make_unique<ServerProcess>(flags));
    if (!c.nodes.back()->Start().ok() || !c.nodes.back()->WaitServing().ok()) std::abort();
    c.clients.push_back(std::make_unique<Client>(*c.nodes.back()));
  }
  // Let membership settle: every node reaches its degree.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  return c;
}

void MeasureFanOut(int n) {
  Cluster c = StartCluster(n);
  double frames0 = 0, bytes0 = 0, connected = 0;
  for (auto& node : c.nodes) {
    frames0 += Scrape(node->metrics_port(), "meshkv_mesh_frames_sent_total", "write_batch");
    bytes0 += Scrape(node->metrics_port(), "meshkv_mesh_bytes_sent_total", "write_batch");
    connected += Scrape(node->metrics_port(), "meshkv_peers_connected");
  }

  // Watches on every node, timestamps of each key's arrival.
  absl::Mutex mu;
  std::map<std::string, std::vector<Clock::time_point>> arrivals;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::thread> watchers;
  std::atomic<int> created{0};
  for (int i = 0; i < n; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    watchers.emplace_back([&, i] {
      meshkv::v1::WatchRequest req;
      req.set_prefix("m/");
      auto reader = c.clients[i]->stub()->Watch(contexts[i].get(), req);
      meshkv::v1::WatchResponse r;
      if (reader->Read(&r)) ++created;
      while (reader->Read(&r)) {
        const auto now = Clock::now();
        absl::MutexLock lock(&mu);
        for (const auto& e : r.events()) arrivals[e.entry().key()].push_back(now);
      }
    });
  }
  while (created < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  constexpr int kWrites = 200;
  std::vector<Clock::time_point> acked(kWrites);
  for (int w = 0; w < kWrites; ++w) {
    const std::string key = absl::StrCat("m/", w);
    if (!c.clients[w % n]->Set(key, std::string(100, 'v')).ok()) std::abort();
    acked[w] = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (int tries = 0; tries < 1000; ++tries) {
    absl::MutexLock lock(&mu);
    size_t complete = 0;
    for (const auto& [k, v] : arrivals) complete += v.size() == static_cast<size_t>(n);
    if (complete == kWrites) break;
    mu.Unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    mu.Lock();
  }
  for (auto& ctx : contexts) ctx->TryCancel();
  for (auto& t : watchers) t.join();

  std::vector<double> farthest;
  for (int w = 0; w < kWrites; ++w) {
    const auto& times = arrivals[absl::StrCat("m/", w)];
    if (times.size() != static_cast<size_t>(n)) continue;
    const auto last = *std::max_element(times.begin(), times.end());
    farthest.push_back(std::chrono::duration<double, std::milli>(last - acked[w]).count());
  }
  std::sort(farthest.begin(), farthest.end());
  double frames1 = 0, bytes1 = 0, batches = 0, batched = 0;
  for (auto& node : c.nodes) {
    frames1 += Scrape(node->metrics_port(), "meshkv_mesh_frames_sent_total", "write_batch");
    bytes1 += Scrape(node->metrics_port(), "meshkv_mesh_bytes_sent_total", "write_batch");
    batches += Scrape(node->metrics_port(), "meshkv_replication_batch_size_count");
    batched += Scrape(node->metrics_port(), "meshkv_replication_batch_size_sum");
  }
  auto pct = [&](double p) {
    return farthest.empty()
               ? -1
               : farthest[std::min(farthest.size() - 1, static_cast<size_t>(p * farthest.size()))];
  };
  std::printf(
      "N=%d: %.1f connections per node; write_batch frames per write %.2f (target <= %d), bytes "
      "per write %.0f, writes per batch %.2f; ack-to-farthest-node ms p50 %.2f p99 %.2f max "
      "%.2f (%zu/%d writes seen everywhere)\n",
      n, connected / n, (frames1 - frames0) / kWrites, 2 * (n - 1), (bytes1 - bytes0) / kWrites,
      batches > 0 ? batched / batches : 0, pct(0.5), pct(0.99),
      farthest.empty() ? -1 : farthest.back(), farthest.size(), kWrites);
  for (auto& node : c.nodes) node->Terminate();
  for (auto& node : c.nodes) node->Wait();
}

void MeasureCatchUp(int keys) {
  Cluster c = StartCluster(1);
  const auto load_start = Clock::now();
  for (int base = 0; base < keys; base += 1000) {
    std::map<std::string, std::string> batch;
    for (int k = base; k < std::min(keys, base + 1000); ++k) {
      batch[absl::StrCat("key-", 1000000 + k)] = std::string(100, 'v');
    }
    if (!c.clients[0]->Update(batch).ok()) std::abort();
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
  const auto start = Clock::now();
  ServerProcess fresh(
      {"--node-id=fresh", "--log-level=warning", "--join=" + c.nodes[0]->mesh_addr()});
  if (!fresh.Start().ok()) std::abort();
  const auto listening = Clock::now();
  if (!fresh.WaitServing(absl::Seconds(120)).ok()) std::abort();
  const double synced_s = std::chrono::duration<double>(Clock::now() - start).count();
  const double keys_there = Scrape(fresh.metrics_port(), "meshkv_store_keys");
  std::printf(
      "catch-up: %d keys (loaded in %.1f s at one node); fresh node started in %.0f ms and was "
      "SERVING with %.0f keys %.2f s after launch\n",
      keys, load_s, std::chrono::duration<double, std::milli>(listening - start).count(),
      keys_there, synced_s);
  fresh.Terminate();
  fresh.Wait();
  c.nodes[0]->Terminate();
  c.nodes[0]->Wait();
}

}  // namespace
}  // namespace meshkv

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {3, 10};
  for (int n : sizes) meshkv::MeasureFanOut(n);
  meshkv::MeasureCatchUp(100000);
  return 0;
}
