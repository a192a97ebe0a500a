#include "tools/bench/bench_config.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

namespace meshkv::bench {

absl::StatusOr<Target> ParseTarget(absl::string_view name) {
  if (name == "meshkv") return Target::kMeshkv;
  if (name == "baseline") return Target::kBaseline;
  if (name == "etcd") return Target::kEtcd;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown target '", name, "': meshkv, baseline or etcd"));
}

absl::StatusOr<Workload> ParseWorkload(absl::string_view name) {
  if (name == "get") return Workload::kGet;
  if (name == "set") return Workload::kSet;
  if (name == "mixed") return Workload::kMixed;
  if (name == "list") return Workload::kList;
  if (name == "watch-latency") return Workload::kWatchLatency;
  if (name == "none") return Workload::kNone;
  if (name == "wait-serving") return Workload::kWaitServing;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown workload '", name, "': get, set, mixed, list, watch-latency, none, wait-serving"));
}

const char* TargetName(Target t) {
  switch (t) {
    case Target::kMeshkv:
      return "meshkv";
    case Target::kBaseline:
      return "baseline";
    case Target::kEtcd:
      return "etcd";
  }
  return "?";
}

const char* WorkloadName(Workload w) {
  switch (w) {
    case Workload::kGet:
      return "get";
    case Workload::kSet:
      return "set";
    case Workload::kMixed:
      return "mixed";
    case Workload::kList:
      return "list";
    case Workload::kWatchLatency:
      return "watch-latency";
    case Workload::kNone:
      return "none";
    case Workload::kWaitServing:
      return "wait-serving";
  }
  return "?";
}

std::shared_ptr<grpc::ChannelCredentials> BenchConfig::ChannelCredentials() const {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = tls.Credentials();
  return creds.ok() ? *std::move(creds) : grpc::InsecureChannelCredentials();
}

absl::Status BenchConfig::Validate() {
  if (addrs.empty()) return absl::InvalidArgumentError("--addr is required");
  if (absl::Status s = tls.Credentials().status(); !s.ok()) return s;
  if (connections < 1 || inflight < 1) {
    return absl::InvalidArgumentError("--connections and --inflight must be at least 1");
  }
  if (threads < 0) return absl::InvalidArgumentError("--threads must be >= 0");
  if (keyspace < 1) return absl::InvalidArgumentError("--keyspace must be at least 1");
  if (rate < 0) return absl::InvalidArgumentError("--rate must be >= 0");
  if (read_ratio < 0 || read_ratio > 1) {
    return absl::InvalidArgumentError("--read-ratio must be in [0, 1]");
  }
  if (duration <= absl::ZeroDuration() && requests == 0 && workload != Workload::kNone &&
      workload != Workload::kWaitServing) {
    return absl::InvalidArgumentError("give a positive --duration or --requests");
  }
  if (target == Target::kBaseline && workload != Workload::kGet &&
      workload != Workload::kWaitServing) {
    return absl::InvalidArgumentError("the baseline serves only the get workload");
  }
  if (target == Target::kBaseline && preload > 0) {
    return absl::InvalidArgumentError("the baseline stores nothing: no --preload");
  }
  if (ttl_ms < 0) return absl::InvalidArgumentError("--ttl-ms must not be negative");
  if (target != Target::kMeshkv && ttl_ms != 0) {
    return absl::InvalidArgumentError("--ttl-ms is meshkv only");
  }
  if (target == Target::kEtcd && (workload == Workload::kList)) {
    return absl::InvalidArgumentError("the list workload is meshkv only");
  }
  if (workload == Workload::kWatchLatency) {
    if (watch_addr.empty()) watch_addr = addrs.back();
    // The send time rides in the value's first 8 bytes.
    value_size = std::max<size_t>(value_size, 8);
  }
  if (preload > keyspace) keyspace = preload;
  return absl::OkStatus();
}

int BenchConfig::EffectiveThreads() const {
  if (threads > 0) return std::min(threads, connections);
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  return std::min(connections, cores);
}

std::string BenchConfig::Key(uint64_t id) const {
  // By hand, not StrFormat: this runs once per request on the client's
  // critical path.
  size_t needed = 1;
  for (uint64_t v = id; v >= 10; v /= 10) ++needed;
  const size_t digits =
      std::max(needed, key_size > key_prefix.size() ? key_size - key_prefix.size() : 1);
  std::string out(key_prefix.size() + digits, '0');
  std::copy(key_prefix.begin(), key_prefix.end(), out.begin());
  for (size_t i = out.size(); id > 0; id /= 10) out[--i] = static_cast<char>('0' + id % 10);
  return out;
}

}  // namespace meshkv::bench
