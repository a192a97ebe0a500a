// LatencyHistogram: counts of durations in log-linear buckets, the layout of
// HdrHistogram with two significant binary digits more than it needs.
//
// Values (nanoseconds) below 128 have a bucket each; above, every power of two
// is split into 128 buckets, so a value read back is within 1/128 (0.8%) of
// what was recorded, from 1 ns to hours, in 7,424 counters (58 KiB). Recording
// is an index computation and an increment.
//
// Not thread-safe: keep one per thread and Merge() them at the end.
//
//   LatencyHistogram h;
//   h.Record(absl::ToInt64Nanoseconds(latency));
//   uint64_t p99 = h.ValueAtPercentile(99.0);
#ifndef MESHKV_TOOLS_BENCH_HISTOGRAM_H_
#define MESHKV_TOOLS_BENCH_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace meshkv::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(uint64_t value_ns);
  void Merge(const LatencyHistogram& other);
  void Clear();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

  // The smallest recorded value (to bucket precision: the bucket's highest
  // value, capped at max()) such that at least `percentile`% of the recorded
  // values are less or equal; percentile 0 is min(). 0 when empty.
  uint64_t ValueAtPercentile(double percentile) const;

  // (percentile, value) pairs for a percentile plot, HdrHistogram style: ticks
  // that halve the distance to 100% four at a time (0, 15.9, 29.3, ..., 50,
  // ..., 75, ..., 99, ..., 99.9 ...) until the last recorded value, then 100.
  std::vector<std::pair<double, uint64_t>> PercentileDistribution() const;

  // Bucket layout, exposed for tests.
  static size_t BucketIndex(uint64_t value);
  static uint64_t BucketLowest(size_t index);
  static uint64_t BucketHighest(size_t index);
  static constexpr int kSubBucketBits = 7;
  static constexpr size_t kSubBuckets = size_t{1} << kSubBucketBits;
  static constexpr size_t kBuckets = kSubBuckets + (64 - kSubBucketBits) * kSubBuckets;

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // Sums of nanoseconds overflow after 584 years of latency: enough.
  uint64_t sum_ = 0;
};

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_HISTOGRAM_H_
