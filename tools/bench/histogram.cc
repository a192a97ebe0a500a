#include "tools/bench/histogram.h"

#include <algorithm>
#include <cmath>

namespace meshkv::bench {

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

size_t LatencyHistogram::BucketIndex(uint64_t value) {
  if (value < kSubBuckets) return static_cast<size_t>(value);
  // value has its top bit at `msb` >= kSubBucketBits; keep the kSubBucketBits+1
  // leading bits: `top` is in [kSubBuckets, 2 * kSubBuckets).
  const int msb = 63 - __builtin_clzll(value);
  const int shift = msb - kSubBucketBits;
  const uint64_t top = value >> shift;
  return kSubBuckets + static_cast<size_t>(shift) * kSubBuckets +
         static_cast<size_t>(top - kSubBuckets);
}

uint64_t LatencyHistogram::BucketLowest(size_t index) {
  if (index < kSubBuckets) return index;
  const size_t shift = (index - kSubBuckets) / kSubBuckets;
  const uint64_t top = kSubBuckets + (index - kSubBuckets) % kSubBuckets;
  return top << shift;
}

uint64_t LatencyHistogram::BucketHighest(size_t index) {
  if (index + 1 >= kBuckets) return UINT64_MAX;
  return BucketLowest(index + 1) - 1;
}

void LatencyHistogram::Record(uint64_t value_ns) {
  ++counts_[BucketIndex(value_ns)];
  ++count_;
  sum_ += value_ns;
  min_ = std::min(min_, value_ns);
  max_ = std::max(max_, value_ns);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::Clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  sum_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  if (percentile <= 0) return min_;
  percentile = std::min(percentile, 100.0);
  // The rank of the value wanted, 1-based: at least one.
  uint64_t rank =
      static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::max(min(), std::min(BucketHighest(i), max_));
  }
  return max_;
}

std::vector<std::pair<double, uint64_t>> LatencyHistogram::PercentileDistribution() const {
  std::vector<std::pair<double, uint64_t>> out;
  if (count_ == 0) return out;
  // Percentile 100 * (1 - 2^(-k/4)), k = 0, 1, ...: equally spaced on a
  // 1 / (1 - p) log axis, the way tails are read.
  for (int k = 0;; ++k) {
    const double tail = std::pow(2.0, -k / 4.0);
    if (tail * static_cast<double>(count_) < 1.0) break;
    const double p = 100.0 * (1.0 - tail);
    out.emplace_back(p, ValueAtPercentile(p));
  }
  out.emplace_back(100.0, max_);
  return out;
}

}  // namespace meshkv::bench
