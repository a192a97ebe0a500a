// Metrics: the node's Prometheus metrics (docs/metrics.md lists them all).
//
// Three sources feed one registry:
//   - events counted as they happen: gRPC requests (through a server
//     interceptor, so every service is covered), watch streams;
//   - state read at scrape time through collectors: the store's keys, bytes,
//     revision and lease counts, the mesh's peers and traffic. Nothing polls;
//     a scrape reads what is there.
// The registry is served at /metrics by an Exposer when an address is given.
//
// Thread-safe: prometheus-cpp metrics are; collectors are called on the
// exposer's threads and must only read thread-safe state.
#ifndef MESHKV_SERVER_METRICS_H_
#define MESHKV_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/watch_stream.h"

namespace prometheus {
class Exposer;
}

namespace meshkv {

class Metrics {
 public:
  // A collector returns metric families built from current state.
  using Collector = std::function<std::vector<prometheus::MetricFamily>()>;

  Metrics();
  ~Metrics();

  // Serves /metrics on `addr` (host:port; port 0 picks one).
  absl::Status Serve(const std::string& addr);
  int port() const;  // 0 when not serving

  // Adds families computed at each scrape.
  void AddCollector(Collector collector);

  // For the gRPC server builder: one interceptor per RPC records its method,
  // status code and latency.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();
  // For the KeyValue service's watch streams.
  const WatchObserver* watch_observer() const { return &watch_observer_; }

  prometheus::Registry& registry() { return *registry_; }
  // Everything a scrape would see, for tests and diagnostics.
  std::vector<prometheus::MetricFamily> Collect() const;

  // One gRPC method's series under the grpc-ecosystem names
  // (go-grpc-prometheus): created on first use and kept, because
  // prometheus' Family::Add builds a metric and takes a lock on every call.
  // The interceptor looks its method up once per RPC, then only increments.
  struct RpcSeries {
    std::string service, method, type;
    prometheus::Counter* started;
    prometheus::Counter* msg_received;
    prometheus::Counter* msg_sent;
    prometheus::Histogram* handling;
    std::array<std::atomic<prometheus::Counter*>, 17> by_code{};  // by grpc::StatusCode
  };
  // `type` is grpc_type: "unary", "server_stream", "client_stream" or
  // "bidi_stream".
  RpcSeries& SeriesFor(absl::string_view full_method, absl::string_view type);
  // The end of an RPC: its code and the time from its start.
  void RecordHandled(RpcSeries& series, grpc::StatusCode code, double seconds);
  // Time from a write's origin wall clock to its merge here.
  void ObserveReplicationLag(double seconds) { replication_lag_.Observe(seconds); }

 private:
  class CollectorSet;
  prometheus::Counter& CounterFor(RpcSeries& series, grpc::StatusCode code);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<CollectorSet> collectors_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string exposer_host_;  // where a connection reaches the exposer (see ~Metrics)

  prometheus::Family<prometheus::Counter>& rpc_started_;
  prometheus::Family<prometheus::Counter>& rpc_handled_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Counter>& rpc_msg_received_;
  prometheus::Family<prometheus::Counter>& rpc_msg_sent_;
  prometheus::Gauge& watch_streams_;
  prometheus::Counter& watch_events_;
  prometheus::Counter& watch_cut_off_;
  prometheus::Counter& watch_refused_;
  prometheus::Histogram& replication_lag_;
  WatchObserver watch_observer_;

  absl::Mutex rpc_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<RpcSeries>> rpc_series_ ABSL_GUARDED_BY(rpc_mu_);
};

// Builders for collectors: one gauge or counter sample with labels.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help);
prometheus::MetricFamily CounterFamily(std::string name, std::string help);
void AddSample(prometheus::MetricFamily* family, double value,
               std::vector<prometheus::ClientMetric::Label> labels = {});

// Exponential histogram buckets for latencies, 50us to ~3s.
prometheus::Histogram::BucketBoundaries LatencyBuckets();
// ... and for replication lag, 1 ms to ~1 min.
prometheus::Histogram::BucketBoundaries LagBuckets();

}  // namespace meshkv

#endif  // MESHKV_SERVER_METRICS_H_
