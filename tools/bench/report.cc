#include "tools/bench/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/bench/json_writer.h"

namespace meshkv::bench {
namespace {

const char* CodeName(size_t code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  return code < sizeof(kNames) / sizeof(kNames[0]) ? kNames[code] : "?";
}

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

void Latency(JsonWriter& j, const LatencyHistogram& h) {
  j.BeginObject();
  j.Key("count");
  j.Uint(h.count());
  j.Key("min");
  j.Number(Us(h.min()));
  j.Key("mean");
  j.Number(h.mean() / 1000.0);
  j.Key("p50");
  j.Number(Us(h.ValueAtPercentile(50)));
  j.Key("p90");
  j.Number(Us(h.ValueAtPercentile(90)));
  j.Key("p99");
  j.Number(Us(h.ValueAtPercentile(99)));
  j.Key("p999");
  j.Number(Us(h.ValueAtPercentile(99.9)));
  j.Key("max");
  j.Number(Us(h.max()));
  j.EndObject();
}

void Distribution(JsonWriter& j, const LatencyHistogram& h) {
  j.BeginArray();
  for (const auto& [p, v] : h.PercentileDistribution()) {
    j.BeginArray();
    j.Number(p);
    j.Number(Us(v));
    j.EndArray();
  }
  j.EndArray();
}

std::string LatencyLine(const LatencyHistogram& h) {
  return absl::StrFormat("p50 %.0f us  p90 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us",
                         Us(h.ValueAtPercentile(50)), Us(h.ValueAtPercentile(90)),
                         Us(h.ValueAtPercentile(99)), Us(h.ValueAtPercentile(99.9)), Us(h.max()));
}

}  // namespace

std::string ReportJson(const Report& r) {
  const BenchConfig& c = *r.config;
  JsonWriter j;
  j.BeginObject();
  j.Key("tool");
  j.String("meshkv-bench");
  j.Key("target");
  j.String(TargetName(c.target));
  j.Key("workload");
  j.String(WorkloadName(c.workload));
  j.Key("addrs");
  j.BeginArray();
  for (const std::string& a : c.addrs) j.String(a);
  j.EndArray();
  if (c.workload == Workload::kWatchLatency) {
    j.Key("watch_addr");
    j.String(c.watch_addr);
  }

  j.Key("config");
  j.BeginObject();
  j.Key("connections");
  j.Int(c.connections);
  j.Key("inflight");
  j.Int(c.inflight);
  j.Key("concurrency");
  j.Int(static_cast<int64_t>(c.connections) * c.inflight);
  j.Key("threads");
  j.Int(c.EffectiveThreads());
  j.Key("key_size");
  j.Uint(c.key_size);
  j.Key("value_size");
  j.Uint(c.value_size);
  j.Key("random_values");
  j.Bool(c.random_values);
  j.Key("keyspace");
  j.Uint(c.keyspace);
  j.Key("rate");
  j.Number(c.rate);
  j.Key("read_ratio");
  j.Number(c.read_ratio);
  j.Key("warmup_s");
  j.Number(absl::ToDoubleSeconds(c.warmup));
  j.Key("duration_s");
  j.Number(c.requests > 0 ? 0 : absl::ToDoubleSeconds(c.duration));
  j.Key("requests");
  j.Uint(c.requests);
  j.Key("preload");
  j.Uint(c.preload);
  j.Key("linearizable");
  j.Bool(c.linearizable);
  j.Key("min_replicas");
  j.Uint(c.min_replicas);
  j.Key("list_limit");
  j.Uint(c.list_limit);
  j.EndObject();

  if (r.preload != nullptr) {
    j.Key("preload");
    j.BeginObject();
    j.Key("keys");
    j.Uint(r.preload->ops);
    j.Key("seconds");
    j.Number(r.preload->seconds);
    j.Key("throughput");
    j.Number(r.preload->throughput());
    j.Key("errors");
    j.Uint(r.preload->errors);
    j.EndObject();
  }

  if (r.run != nullptr) {
    const RunStats& s = *r.run;
    j.Key("result");
    j.BeginObject();
    j.Key("requests");
    j.Uint(s.ops);
    j.Key("errors");
    j.Uint(s.errors);
    j.Key("errors_by_code");
    j.BeginObject();
    for (size_t code = 0; code < s.errors_by_code.size(); ++code) {
      if (s.errors_by_code[code] == 0) continue;
      j.Key(CodeName(code));
      j.Uint(s.errors_by_code[code]);
    }
    j.EndObject();
    j.Key("first_error");
    j.String(s.first_error);
    j.Key("seconds");
    j.Number(s.seconds);
    j.Key("throughput");
    j.Number(s.throughput());
    j.Key("gets");
    j.Uint(s.gets);
    j.Key("sets");
    j.Uint(s.sets);
    j.Key("lists");
    j.Uint(s.lists);
    j.Key("found");
    j.Uint(s.found);
    j.Key("list_entries");
    j.Uint(s.list_entries);
    j.Key("unsent");
    j.Uint(s.unsent);
    j.Key("client_cpu_seconds");
    j.Number(s.client_cpu_seconds);
    j.Key("client_cpu_cores");
    j.Number(s.seconds > 0 ? s.client_cpu_seconds / s.seconds : 0);
    j.Key("latency_us");
    Latency(j, s.latency);
    if (s.gets > 0 && s.sets > 0) {
      j.Key("get_latency_us");
      Latency(j, s.get_latency);
      j.Key("set_latency_us");
      Latency(j, s.set_latency);
    }
    j.Key("latency_distribution_us");
    Distribution(j, s.latency);
    j.EndObject();
  }

  if (r.watch != nullptr) {
    const WatchResult& w = *r.watch;
    j.Key("watch");
    j.BeginObject();
    j.Key("expected");
    j.Uint(w.expected);
    j.Key("recorded");
    j.Uint(w.recorded);
    j.Key("missing");
    j.Uint(w.expected > w.recorded ? w.expected - w.recorded : 0);
    j.Key("latency_us");
    Latency(j, w.latency);
    j.Key("latency_distribution_us");
    Distribution(j, w.latency);
    j.Key("error");
    j.String(w.error);
    j.EndObject();
  }
  j.EndObject();
  return j.str() + "\n";
}

std::string ReportText(const Report& r) {
  const BenchConfig& c = *r.config;
  std::string out = absl::StrFormat(
      "%s %s at %s: %d connections x %d in flight, %d threads, keys %d B, values %d B, "
      "keyspace %d%s\n",
      TargetName(c.target), WorkloadName(c.workload), absl::StrJoin(c.addrs, ","), c.connections,
      c.inflight, c.EffectiveThreads(), c.key_size, c.value_size, c.keyspace,
      c.rate > 0 ? absl::StrFormat(", open loop at %.0f/s", c.rate) : ", closed loop");
  if (r.preload != nullptr) {
    absl::StrAppendFormat(&out, "preload: %d keys in %.2f s (%.0f/s), %d errors\n", r.preload->ops,
                          r.preload->seconds, r.preload->throughput(), r.preload->errors);
  }
  if (r.run != nullptr) {
    const RunStats& s = *r.run;
    absl::StrAppendFormat(
        &out, "%d requests in %.2f s: %.0f/s, %d errors%s\n", s.ops, s.seconds, s.throughput(),
        s.errors, s.first_error.empty() ? "" : absl::StrCat(" (first: ", s.first_error, ")"));
    if (s.unsent > 0) {
      absl::StrAppendFormat(&out, "%d scheduled requests never sent: the target rate was not met\n",
                            s.unsent);
    }
    if (s.gets > 0) absl::StrAppendFormat(&out, "gets found: %d of %d\n", s.found, s.gets);
    if (s.lists > 0) {
      absl::StrAppendFormat(&out, "list entries: %d (%.0f/s)\n", s.list_entries,
                            s.seconds > 0 ? s.list_entries / s.seconds : 0);
    }
    absl::StrAppendFormat(&out, "latency: %s\n", LatencyLine(s.latency));
    absl::StrAppendFormat(&out, "client cpu: %.2f cores\n",
                          s.seconds > 0 ? s.client_cpu_seconds / s.seconds : 0);
  }
  if (r.watch != nullptr) {
    absl::StrAppendFormat(&out, "watch at %s: %d of %d events; set-to-event %s\n", c.watch_addr,
                          r.watch->recorded, r.watch->expected, LatencyLine(r.watch->latency));
    if (!r.watch->error.empty()) absl::StrAppend(&out, "watch error: ", r.watch->error, "\n");
  }
  return out;
}

}  // namespace meshkv::bench
