#include "tools/bench/bench_runner.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "tools/bench/json_writer.h"
#include "tools/bench/load_generator.h"
#include "tools/bench/report.h"
#include "tools/bench/watch_latency.h"

namespace meshkv::bench {
namespace {

bool WriteFile(const std::string& path, const std::string& text) {
  if (path.empty()) return true;
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "meshkv-bench: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

// Polls grpc.health.v1.Health/Check (the whole server: service "") every
// 2 ms until it answers SERVING. Connection failures are retried: the server
// may still be starting.
int WaitServing(const BenchConfig& config, const std::string& json_path, bool quiet) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + config.wait_timeout;
  // While the server is not listening yet, each attempt uses a fresh channel:
  // a channel that failed to connect waits out gRPC's reconnect backoff (and,
  // with no call in flight to poll it, the 5 s backup poller) before trying
  // again, and when the server becomes SERVING is what is measured.
  int attempt = 0;
  auto connect = [&] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("meshkv.bench.attempt", ++attempt);
    return grpc::health::v1::Health::NewStub(
        grpc::CreateCustomChannel(config.addrs.front(), config.ChannelCredentials(), args));
  };
  auto stub = connect();
  bool serving = false;
  std::string last;
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    // Waits for the connection (this thread drives it) for a short while.
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(absl::ToChronoTime(std::min(deadline, absl::Now() + absl::Milliseconds(200))));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&ctx, request, &response);
    if (status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      serving = true;
      break;
    }
    last = status.ok() ? "NOT_SERVING" : status.error_message();
    if (!status.ok()) stub = connect();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const absl::Time end = absl::Now();
  JsonWriter j;
  j.BeginObject();
  j.Key("tool");
  j.String("meshkv-bench");
  j.Key("workload");
  j.String("wait-serving");
  j.Key("addr");
  j.String(config.addrs.front());
  j.Key("serving");
  j.Bool(serving);
  j.Key("waited_s");
  j.Number(absl::ToDoubleSeconds(end - start));
  j.Key("serving_unix_s");
  j.Number(absl::ToDoubleSeconds(end - absl::UnixEpoch()));
  j.Key("last_error");
  j.String(serving ? "" : last);
  j.EndObject();
  if (!quiet) {
    std::printf("%s after %.3f s\n", serving ? "SERVING" : "not SERVING",
                absl::ToDoubleSeconds(end - start));
  }
  if (!WriteFile(json_path, j.str() + "\n")) return 1;
  return serving ? 0 : 1;
}

}  // namespace

int RunBench(BenchConfig config, const std::string& json_path, bool quiet) {
  if (absl::Status s = config.Validate(); !s.ok()) {
    std::fprintf(stderr, "meshkv-bench: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (config.workload == Workload::kWaitServing) return WaitServing(config, json_path, quiet);

  // Watch-latency writes at the first address only and watches another.
  BenchConfig writers = config;
  if (config.workload == Workload::kWatchLatency) writers.addrs = {config.addrs.front()};
  LoadGenerator gen(writers);
  if (absl::Status s = gen.Connect(absl::Seconds(10)); !s.ok()) {
    std::fprintf(stderr, "meshkv-bench: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  Report report;
  report.config = &config;

  std::optional<RunStats> preload;
  if (config.preload > 0) {
    // Spread over every address given, even for watch-latency.
    LoadGenerator loader(config);
    if (absl::Status s = loader.Connect(absl::Seconds(10)); !s.ok()) {
      std::fprintf(stderr, "meshkv-bench: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    preload = loader.Preload(config.preload);
    report.preload = &*preload;
    if (!quiet) {
      std::printf("preloaded %llu keys in %.2f s (%.0f/s), %llu errors\n",
                  static_cast<unsigned long long>(preload->ops), preload->seconds,
                  preload->throughput(), static_cast<unsigned long long>(preload->errors));
      std::fflush(stdout);
    }
  }

  std::optional<RunStats> run;
  WatchResult watch;
  switch (config.workload) {
    case Workload::kNone:
      break;
    case Workload::kWatchLatency: {
      WatchListener listener(config);
      if (absl::Status s = listener.Start(absl::Seconds(10)); !s.ok()) {
        std::fprintf(stderr, "meshkv-bench: %s\n", std::string(s.message()).c_str());
        return 1;
      }
      // The window is known only once the run starts; the listener filters
      // by the stamp, so set it before any write can be sent.
      const int64_t start = NowNs();
      const int64_t measure_start = start + absl::ToInt64Nanoseconds(config.warmup);
      listener.SetWindow(measure_start,
                         config.requests > 0
                             ? INT64_MAX
                             : measure_start + absl::ToInt64Nanoseconds(config.duration));
      run = gen.Run(Workload::kSet, /*stamp_values=*/true, start);
      watch.expected = run->stamped_ok;
      listener.WaitForEvents(watch.expected, absl::Seconds(5));
      listener.Stop();
      watch.latency = listener.latency();
      watch.recorded = watch.latency.count();
      watch.error = listener.error();
      report.watch = &watch;
      break;
    }
    default:
      run = gen.Run(config.workload, /*stamp_values=*/false);
      break;
  }
  if (run) report.run = &*run;
  if (!quiet) {
    std::fputs(ReportText(report).c_str(), stdout);
    std::fflush(stdout);
  }
  return WriteFile(json_path, ReportJson(report)) ? 0 : 1;
}

}  // namespace meshkv::bench
