#include "server/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/exposer.h"

namespace meshkv {
namespace {

// grpc_code values as grpc-go's codes.Code.String() spells them, which is
// what go-grpc-prometheus exports and existing dashboards and alerts match
// (etcd's mixin: grpc_code=~"Unknown|FailedPrecondition|...").
constexpr const char* kCodeNames[] = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};

// Opens and closes one TCP connection to ipv4_host:port, ignoring failure.
void TouchPort(const std::string& ipv4_host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ipv4_host.c_str(), &addr.sin_addr) != 1) return;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  close(fd);
}

std::string CodeName(grpc::StatusCode code) {
  const int c = static_cast<int>(code);
  return c >= 0 && c < 17 ? kCodeNames[c] : absl::StrCat(c);
}

// "/meshkv.v1.KeyValue/Get" -> {"meshkv.v1.KeyValue", "Get"}.
std::pair<std::string, std::string> SplitMethod(absl::string_view full) {
  if (!full.empty() && full[0] == '/') full.remove_prefix(1);
  const size_t slash = full.find('/');
  if (slash == absl::string_view::npos) return {std::string(full), ""};
  return {std::string(full.substr(0, slash)), std::string(full.substr(slash + 1))};
}

const char* TypeName(grpc::experimental::ServerRpcInfo::Type type) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  switch (type) {
    case Type::UNARY:
      return "unary";
    case Type::SERVER_STREAMING:
      return "server_stream";
    case Type::CLIENT_STREAMING:
      return "client_stream";
    case Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unary";
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(Metrics* metrics, grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics),
        series_(metrics->SeriesFor(info->method(), TypeName(info->type()))),
        start_(std::chrono::steady_clock::now()) {
    series_.started->Increment();
  }

  ~MetricsInterceptor() override {
    // A call that ended without a status (the client went away).
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    // A failed receive (the client closed its side) has no message.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      series_.msg_received->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      series_.msg_sent->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_->RecordHandled(series_, code, elapsed.count());
  }

  Metrics* const metrics_;
  Metrics::RpcSeries& series_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info);
  }

 private:
  Metrics* const metrics_;
};

}  // namespace

// Families computed at scrape time, registered once as one Collectable.
class Metrics::CollectorSet final : public prometheus::Collectable {
 public:
  void Add(Collector c) {
    absl::MutexLock lock(&mu_);
    collectors_.push_back(std::move(c));
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    absl::MutexLock lock(&mu_);
    std::vector<prometheus::MetricFamily> out;
    for (const Collector& c : collectors_) {
      for (prometheus::MetricFamily& f : c()) out.push_back(std::move(f));
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

// Replication lag: 1 ms to ~1 min.
prometheus::Histogram::BucketBoundaries LagBuckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double s = 0.001; s < 70; s *= 2) b.push_back(s);
  return b;
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double s = 50e-6; s < 4; s *= 2) b.push_back(s);
  return b;
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      collectors_(std::make_shared<CollectorSet>()),
      rpc_started_(prometheus::BuildCounter()
                       .Name("grpc_server_started_total")
                       .Help("Total number of RPCs started on the server.")
                       .Register(*registry_)),
      rpc_handled_(prometheus::BuildCounter()
                       .Name("grpc_server_handled_total")
                       .Help("Total number of RPCs completed on the server, regardless of "
                             "success or failure.")
                       .Register(*registry_)),
      rpc_seconds_(prometheus::BuildHistogram()
                       .Name("grpc_server_handling_seconds")
                       .Help("Histogram of response latency (seconds) of gRPC that had been "
                             "application-level handled by the server.")
                       .Register(*registry_)),
      rpc_msg_received_(prometheus::BuildCounter()
                            .Name("grpc_server_msg_received_total")
                            .Help("Total number of RPC stream messages received on the server.")
                            .Register(*registry_)),
      rpc_msg_sent_(prometheus::BuildCounter()
                        .Name("grpc_server_msg_sent_total")
                        .Help("Total number of gRPC stream messages sent by the server.")
                        .Register(*registry_)),
      watch_streams_(prometheus::BuildGauge()
                         .Name("meshkv_watch_streams")
                         .Help("Watch streams open.")
                         .Register(*registry_)
                         .Add({})),
      watch_events_(prometheus::BuildCounter()
                        .Name("meshkv_watch_events_sent_total")
                        .Help("Events written to watch streams.")
                        .Register(*registry_)
                        .Add({})),
      watch_cut_off_(prometheus::BuildCounter()
                         .Name("meshkv_watch_cut_off_total")
                         .Help("Watch streams ended with RESOURCE_EXHAUSTED because they fell "
                               "too far behind.")
                         .Register(*registry_)
                         .Add({})),
      watch_refused_(prometheus::BuildCounter()
                         .Name("meshkv_watch_streams_refused_total")
                         .Help("Watch streams refused with RESOURCE_EXHAUSTED because the node "
                               "had --max-watch-streams open.")
                         .Register(*registry_)
                         .Add({})),
      replication_lag_(prometheus::BuildHistogram()
                           .Name("meshkv_replication_lag_seconds")
                           .Help("Time from a write's wall-clock timestamp at its origin to its "
                                 "merge at this node (flooded writes; includes clock skew).")
                           .Register(*registry_)
                           .Add({}, LagBuckets())) {
  prometheus::BuildGauge()
      .Name("meshkv_build_info")
      .Help("Always 1; the version label names the build.")
      .Register(*registry_)
      .Add({{"version", MESHKV_VERSION}})
      .Set(1);
  watch_observer_.on_events_sent = [this](size_t n) {
    watch_events_.Increment(static_cast<double>(n));
  };
  watch_observer_.on_cut_off = [this] { watch_cut_off_.Increment(); };
  watch_observer_.on_refused = [this] { watch_refused_.Increment(); };
  watch_observer_.on_stream_count = [this](int delta) { watch_streams_.Increment(delta); };
}

Metrics::~Metrics() {
  if (exposer_ == nullptr) return;
  // civetweb's mg_stop() waits for its listening thread, which polls the
  // socket with a 2 s timeout, so destroying the Exposer took up to 2 s and a
  // node stopped by SIGTERM lingered that long after "stopped" (a restart on
  // the same ports then failed). A connection to the port ends the poll at
  // once, and the thread sees the stop flag.
  const int port = this->port();
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    exposer_.reset();
    stopped = true;
  });
  while (!stopped) {
    TouchPort(exposer_host_, port);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stopper.join();
}

absl::Status Metrics::Serve(const std::string& addr) {
  // civetweb reports a bind failure by throwing; nothing else here does.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(addr, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", addr, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(collectors_);
  // The exposer's own IPv4 address, or loopback when it listens on every
  // address (or on an IPv6 one, which ~Metrics then simply waits out).
  const std::string host = addr.substr(0, addr.rfind(':'));
  in_addr ignored;
  exposer_host_ =
      host != "0.0.0.0" && inet_pton(AF_INET, host.c_str(), &ignored) == 1 ? host : "127.0.0.1";
  return absl::OkStatus();
}

int Metrics::port() const {
  if (exposer_ == nullptr) return 0;
  std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::AddCollector(Collector collector) { collectors_->Add(std::move(collector)); }

std::vector<prometheus::MetricFamily> Metrics::Collect() const {
  std::vector<prometheus::MetricFamily> out = registry_->Collect();
  for (prometheus::MetricFamily& f : collectors_->Collect()) out.push_back(std::move(f));
  return out;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Metrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

Metrics::RpcSeries& Metrics::SeriesFor(absl::string_view full_method, absl::string_view type) {
  {
    absl::ReaderMutexLock lock(&rpc_mu_);
    auto it = rpc_series_.find(full_method);
    if (it != rpc_series_.end()) return *it->second;
  }
  absl::MutexLock lock(&rpc_mu_);
  std::unique_ptr<RpcSeries>& s = rpc_series_[full_method];
  if (s == nullptr) {
    s = std::make_unique<RpcSeries>();
    std::tie(s->service, s->method) = SplitMethod(full_method);
    s->type = std::string(type);
    const std::map<std::string, std::string> labels = {
        {"grpc_service", s->service}, {"grpc_method", s->method}, {"grpc_type", s->type}};
    s->started = &rpc_started_.Add(labels);
    s->msg_received = &rpc_msg_received_.Add(labels);
    s->msg_sent = &rpc_msg_sent_.Add(labels);
    s->handling = &rpc_seconds_.Add(labels, LatencyBuckets());
  }
  return *s;
}

prometheus::Counter& Metrics::CounterFor(RpcSeries& series, grpc::StatusCode code) {
  const size_t i =
      static_cast<size_t>(code) < series.by_code.size() ? static_cast<size_t>(code) : 2;  // UNKNOWN
  prometheus::Counter* c = series.by_code[i].load(std::memory_order_acquire);
  if (c != nullptr) return *c;
  absl::MutexLock lock(&rpc_mu_);  // Family::Add returns the same series to racing callers
  c = &rpc_handled_.Add({{"grpc_service", series.service},
                         {"grpc_method", series.method},
                         {"grpc_type", series.type},
                         {"grpc_code", CodeName(static_cast<grpc::StatusCode>(i))}});
  series.by_code[i].store(c, std::memory_order_release);
  return *c;
}

void Metrics::RecordHandled(RpcSeries& series, grpc::StatusCode code, double seconds) {
  CounterFor(series, code).Increment();
  series.handling->Observe(seconds);
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  return f;
}

prometheus::MetricFamily CounterFamily(std::string name, std::string help) {
  prometheus::MetricFamily f = GaugeFamily(std::move(name), std::move(help));
  f.type = prometheus::MetricType::Counter;
  return f;
}

void AddSample(prometheus::MetricFamily* family, double value,
               std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (family->type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family->metric.push_back(std::move(m));
}

}  // namespace meshkv
