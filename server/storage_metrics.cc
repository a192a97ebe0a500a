#include "server/storage_metrics.h"

#include <limits>
#include <optional>
#include <vector>

namespace meshkv {

Metrics::Collector StorageCollector(const storage::DataDir* dir) {
  return [dir] {
    const storage::DataDirStats s = dir->Stats();
    std::vector<prometheus::MetricFamily> out;
    auto add = [&](prometheus::MetricFamily f, double v) {
      AddSample(&f, v);
      out.push_back(std::move(f));
    };
    add(GaugeFamily("meshkv_storage_disk_bytes", "Bytes of every file in the data directory."),
        static_cast<double>(s.disk_bytes));
    add(CounterFamily("meshkv_storage_records_appended_total",
                      "Committed changes recorded in the data directory."),
        static_cast<double>(s.records_appended));
    add(CounterFamily("meshkv_storage_records_forgotten_total",
                      "Tombstones past the retention dropped from the data directory."),
        static_cast<double>(s.records_forgotten));
    add(CounterFamily("meshkv_storage_write_errors_total",
                      "Failed appends, forgets and fsyncs (a full disk, an I/O error)."),
        static_cast<double>(s.write_errors));
    add(GaugeFamily("meshkv_storage_open_seconds",
                    "Time the data directory took to open at start-up, engine recovery included."),
        s.open_seconds);
    add(GaugeFamily("meshkv_storage_load_seconds",
                    "Time the records on disk took to load into the store at start-up."),
        s.load_seconds);
    add(GaugeFamily("meshkv_storage_records_loaded", "Records loaded from disk at start-up."),
        static_cast<double>(s.records_loaded));
    // 0 until the node has first been in sync with its peers.
    const std::optional<int64_t> in_sync = dir->last_in_sync_ms();
    add(GaugeFamily("meshkv_storage_last_in_sync_timestamp_seconds",
                    "When this node last recorded being in sync with its peers (Unix time); "
                    "the tombstone-retention rule compares it with the time at start-up."),
        in_sync.has_value() ? static_cast<double>(*in_sync) / 1000 : 0);

    // fsync latency as a Prometheus histogram: cumulative buckets.
    prometheus::MetricFamily h{"meshkv_storage_fsync_duration_seconds",
                               "Time each fsync of the data directory's log took.",
                               prometheus::MetricType::Histogram,
                               {}};
    prometheus::ClientMetric m;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < s.fsync_bucket_bounds_seconds.size(); ++i) {
      cumulative += s.fsync_bucket_counts[i];
      prometheus::ClientMetric::Bucket b;
      b.upper_bound = s.fsync_bucket_bounds_seconds[i];
      b.cumulative_count = cumulative;
      m.histogram.bucket.push_back(b);
    }
    prometheus::ClientMetric::Bucket inf;
    inf.upper_bound = std::numeric_limits<double>::infinity();
    inf.cumulative_count = s.fsyncs;
    m.histogram.bucket.push_back(inf);
    m.histogram.sample_count = s.fsyncs;
    m.histogram.sample_sum = s.fsync_seconds_sum;
    h.metric.push_back(std::move(m));
    out.push_back(std::move(h));
    return out;
  };
}

}  // namespace meshkv
