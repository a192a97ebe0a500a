// BenchConfig: what meshkv-bench is asked to do, independent of flags.
//
// bench_main.cc fills one from flags; the load generator, the watch-latency
// measurement and the report read it. Keys are `key_prefix` followed by a
// zero-padded number in [0, keyspace), `key_size` bytes in all.
#ifndef MESHKV_TOOLS_BENCH_BENCH_CONFIG_H_
#define MESHKV_TOOLS_BENCH_BENCH_CONFIG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/tls/client_tls.h"

namespace meshkv::bench {

// Which server speaks at the addresses.
enum class Target {
  kMeshkv,    // meshkv.v1.KeyValue
  kBaseline,  // meshkv.bench.v1.Baseline: Get only, a no-op
  kEtcd,      // etcdserverpb.KV (Range, Put) and etcdserverpb.Watch
};

enum class Workload {
  kGet,           // Get / Range of random keys
  kSet,           // Set / Put of random keys
  kMixed,         // Get with probability read_ratio, else Set
  kList,          // List pages of list_limit entries from a random key (meshkv)
  kWatchLatency,  // Sets at the first address, events on a Watch at watch_addr
  kNone,          // only --preload
  kWaitServing,   // poll grpc.health.v1 until SERVING, report when
};

absl::StatusOr<Target> ParseTarget(absl::string_view name);
absl::StatusOr<Workload> ParseWorkload(absl::string_view name);
const char* TargetName(Target t);
const char* WorkloadName(Workload w);

struct BenchConfig {
  Target target = Target::kMeshkv;
  Workload workload = Workload::kGet;
  // host:port of each server; connection i goes to addrs[i % addrs.size()].
  std::vector<std::string> addrs;
  // Where watch-latency watches; empty: the last of addrs.
  std::string watch_addr;

  int connections = 4;  // gRPC channels, each its own TCP connection
  int inflight = 16;    // outstanding requests per connection
  int threads = 0;      // completion-queue threads; 0: min(connections, cores)

  size_t key_size = 16;
  size_t value_size = 100;
  // Every Set gets fresh random bytes instead of one fixed value per thread:
  // what a data directory stores then does not compress (disk bytes per key).
  bool random_values = false;
  uint64_t keyspace = 100000;
  std::string key_prefix = "bench/";
  // With several addresses, connection i writes only keys k with
  // k % addrs.size() == i % addrs.size(): each key is written at one node, as
  // meshkv's leases require.
  bool partition_keys = true;

  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(10);
  uint64_t requests = 0;  // > 0: stop after this many measured requests instead
  // Requests per second over all connections: open loop, latency measured from
  // each request's due time (see load_generator.h). 0: closed loop.
  double rate = 0;
  double read_ratio = 0.9;  // mixed
  uint32_t list_limit = 100;
  bool linearizable = false;  // etcd Range: linearizable instead of serializable
  uint32_t min_replicas = 0;  // meshkv Set: other nodes that must hold each write
  uint64_t preload = 0;       // write keys [0, preload) before the run
  int64_t ttl_ms = 0;         // meshkv: every Set (preload too) with this ttl; 0: none
  absl::Duration rpc_timeout = absl::Seconds(10);
  absl::Duration wait_timeout = absl::Seconds(120);  // wait-serving
  uint64_t seed = 1;
  // --cacert --cert --key (MESHKV_CACERT ...): TLS to the servers; none:
  // plaintext.
  ClientTls tls;

  // Checks the combination; fills defaults that depend on other fields.
  absl::Status Validate();
  int EffectiveThreads() const;
  // What every channel dials with (tls's; checked by Validate()).
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;
  // The key numbered `id`, key_size bytes (longer if the number needs it).
  std::string Key(uint64_t id) const;
};

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_BENCH_CONFIG_H_
