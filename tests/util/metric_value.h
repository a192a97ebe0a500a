// Reads one sample out of collected Prometheus families, for assertions.
//
//   double cut = MetricValue(server->metrics().Collect(), "meshkv_watch_cut_off_total");
#ifndef MESHKV_TESTS_UTIL_METRIC_VALUE_H_
#define MESHKV_TESTS_UTIL_METRIC_VALUE_H_

#include <map>
#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace meshkv::testing {

// The value of the sample of `name` whose labels include `labels`; for a
// histogram, its sample count. -1 when there is no such sample.
inline double MetricValue(const std::vector<prometheus::MetricFamily>& families,
                          const std::string& name,
                          const std::map<std::string, std::string>& labels = {}) {
  for (const prometheus::MetricFamily& f : families) {
    if (f.name != name) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      size_t matched = 0;
      for (const auto& l : m.label) {
        auto it = labels.find(l.name);
        if (it != labels.end() && it->second == l.value) ++matched;
      }
      if (matched != labels.size()) continue;
      switch (f.type) {
        case prometheus::MetricType::Counter:
          return m.counter.value;
        case prometheus::MetricType::Gauge:
          return m.gauge.value;
        case prometheus::MetricType::Histogram:
          return static_cast<double>(m.histogram.sample_count);
        default:
          return m.untyped.value;
      }
    }
  }
  return -1;
}

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_METRIC_VALUE_H_
