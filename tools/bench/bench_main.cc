// meshkv-bench: an asynchronous gRPC load generator for meshkv, the no-op
// baseline and etcd. Parses flags and hands over to RunBench().
//
//   meshkv-bench --addr=127.0.0.1:50051 --workload=get --preload=100000
//       --connections=4 --inflight=32 --duration=10s --json=get.json
//
// Flags are spelled with dashes (--key-size); underscores work too.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/dashed_flags.h"
#include "tools/bench/bench_config.h"
#include "tools/bench/bench_runner.h"

ABSL_FLAG(std::string, target, "meshkv", "Server kind: meshkv, baseline (no-op Get) or etcd.");
ABSL_FLAG(std::string, workload, "get",
          "get, set, mixed (--read-ratio gets), list (meshkv), watch-latency (sets at the first "
          "address, events on a Watch at --watch-addr), none (only --preload) or wait-serving "
          "(poll grpc.health.v1 until SERVING).");
ABSL_FLAG(std::string, addr, "127.0.0.1:50051",
          "host:port of the server; a comma-separated list spreads the connections.");
ABSL_FLAG(std::string, watch_addr, "",
          "watch-latency: where to watch. Default: the last of --addr.");
ABSL_FLAG(int, connections, 4, "gRPC connections (channels), spread over --addr.");
ABSL_FLAG(int, inflight, 16, "Requests outstanding per connection.");
ABSL_FLAG(int, threads, 0, "Client threads (completion queues). 0: min(connections, cores).");
ABSL_FLAG(uint64_t, key_size, 16, "Key size in bytes (prefix + zero-padded number).");
ABSL_FLAG(uint64_t, value_size, 100, "Value size in bytes.");
ABSL_FLAG(bool, random_values, false,
          "Every Set writes fresh random bytes (default: one fixed value per client thread, "
          "which a storage engine compresses to almost nothing).");
ABSL_FLAG(uint64_t, keyspace, 100000, "Keys are chosen uniformly from this many.");
ABSL_FLAG(std::string, key_prefix, "bench/", "Every key starts with this.");
ABSL_FLAG(bool, partition_keys, true,
          "With several addresses, write each key at one of them only (meshkv leases refuse a "
          "key's writes at another node).");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Load before measuring starts.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured time.");
ABSL_FLAG(uint64_t, requests, 0, "If > 0: measure this many requests instead of --duration.");
ABSL_FLAG(double, rate, 0,
          "Target requests/s over all connections (open loop, latency from the scheduled "
          "time, waiting for a free slot included). 0: closed loop, unlimited.");
ABSL_FLAG(double, read_ratio, 0.9, "mixed: fraction of requests that are gets.");
ABSL_FLAG(uint32_t, list_limit, 100, "list: entries per List request.");
ABSL_FLAG(bool, linearizable, false,
          "etcd: linearizable Range (etcd's default) instead of serializable.");
ABSL_FLAG(uint32_t, min_replicas, 0,
          "meshkv: each Set asks this many other nodes to hold it (the write concern).");
ABSL_FLAG(uint64_t, preload, 0, "Write keys [0, N) before the run (get workloads).");
ABSL_FLAG(int64_t, ttl_ms, 0,
          "meshkv: every Set (the preload's too) asks for this time to live in ms; 0: none.");
ABSL_FLAG(absl::Duration, rpc_timeout, absl::Seconds(10), "Deadline of each request.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(120), "wait-serving: give up after this long.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed for key choice.");
ABSL_FLAG(std::string, cacert, "",
          "TLS: verify the servers against this CA certificate (default: $MESHKV_CACERT; none "
          "of --cacert --cert --key: plaintext).");
ABSL_FLAG(std::string, cert, "",
          "TLS: this client's certificate, for servers run with --client-ca (default: "
          "$MESHKV_CERT).");
ABSL_FLAG(std::string, key, "", "TLS: its private key (default: $MESHKV_KEY).");
ABSL_FLAG(std::string, json, "", "Write the report here as JSON.");
ABSL_FLAG(bool, quiet, false, "No summary on stdout.");

int main(int argc, char** argv) {
  meshkv::ParseDashedCommandLine(
      argc, argv,
      "meshkv-bench: load generator for meshkv, the no-op baseline and etcd.\n"
      "  meshkv-bench --addr=HOST:PORT[,HOST:PORT...] --workload=get --preload=100000 "
      "--json=out.json",
      "bench_main.cc");

  using meshkv::bench::BenchConfig;
  BenchConfig c;
  auto target = meshkv::bench::ParseTarget(absl::GetFlag(FLAGS_target));
  auto workload = meshkv::bench::ParseWorkload(absl::GetFlag(FLAGS_workload));
  for (const absl::Status& s : {target.status(), workload.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "meshkv-bench: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  c.target = *target;
  c.workload = *workload;
  c.addrs = absl::StrSplit(absl::GetFlag(FLAGS_addr), ',', absl::SkipEmpty());
  c.watch_addr = absl::GetFlag(FLAGS_watch_addr);
  c.connections = absl::GetFlag(FLAGS_connections);
  c.inflight = absl::GetFlag(FLAGS_inflight);
  c.threads = absl::GetFlag(FLAGS_threads);
  c.key_size = absl::GetFlag(FLAGS_key_size);
  c.value_size = absl::GetFlag(FLAGS_value_size);
  c.random_values = absl::GetFlag(FLAGS_random_values);
  c.keyspace = absl::GetFlag(FLAGS_keyspace);
  c.key_prefix = absl::GetFlag(FLAGS_key_prefix);
  c.partition_keys = absl::GetFlag(FLAGS_partition_keys);
  c.warmup = absl::GetFlag(FLAGS_warmup);
  c.duration = absl::GetFlag(FLAGS_duration);
  c.requests = absl::GetFlag(FLAGS_requests);
  c.rate = absl::GetFlag(FLAGS_rate);
  c.read_ratio = absl::GetFlag(FLAGS_read_ratio);
  c.list_limit = absl::GetFlag(FLAGS_list_limit);
  c.linearizable = absl::GetFlag(FLAGS_linearizable);
  c.min_replicas = absl::GetFlag(FLAGS_min_replicas);
  c.preload = absl::GetFlag(FLAGS_preload);
  c.ttl_ms = absl::GetFlag(FLAGS_ttl_ms);
  c.rpc_timeout = absl::GetFlag(FLAGS_rpc_timeout);
  c.wait_timeout = absl::GetFlag(FLAGS_timeout);
  c.seed = absl::GetFlag(FLAGS_seed);
  c.tls = meshkv::ClientTls::WithEnvironment(
      {absl::GetFlag(FLAGS_cacert), absl::GetFlag(FLAGS_cert), absl::GetFlag(FLAGS_key)});
  return meshkv::bench::RunBench(std::move(c), absl::GetFlag(FLAGS_json),
                                 absl::GetFlag(FLAGS_quiet));
}
