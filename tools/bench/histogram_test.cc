#include "tools/bench/histogram.h"

#include <cstdint>
#include <random>

#include "gtest/gtest.h"

namespace meshkv::bench {
namespace {

TEST(LatencyHistogramTest, BucketsAreContiguousAndPrecise) {
  for (size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    ASSERT_EQ(LatencyHistogram::BucketHighest(i) + 1, LatencyHistogram::BucketLowest(i + 1))
        << "bucket " << i;
    const uint64_t lo = LatencyHistogram::BucketLowest(i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(lo), i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::BucketHighest(i)), i);
    // Width at most 1/128 of the bucket's lowest value (or 1 below 128).
    const uint64_t width = LatencyHistogram::BucketHighest(i) - lo + 1;
    ASSERT_LE(width, std::max<uint64_t>(1, lo / LatencyHistogram::kSubBuckets)) << "bucket " << i;
  }
  EXPECT_EQ(LatencyHistogram::BucketIndex(UINT64_MAX), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
  EXPECT_TRUE(h.PercentileDistribution().empty());
}

TEST(LatencyHistogramTest, PercentilesOfUniformValuesWithinPrecision) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100000000u);
  EXPECT_NEAR(h.mean(), 50000500.0, 1.0);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double exact = p / 100.0 * 100000 * 1000;
    EXPECT_NEAR(static_cast<double>(h.ValueAtPercentile(p)), exact, exact / 100.0) << p;
  }
  EXPECT_EQ(h.ValueAtPercentile(100), h.max());
  EXPECT_EQ(h.ValueAtPercentile(0), h.min());
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(12.0, 1.5);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 50000; ++i) {
    const uint64_t v = static_cast<uint64_t>(dist(rng));
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {1.0, 50.0, 99.0, 99.99})
    EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p));
}

TEST(LatencyHistogramTest, DistributionIsOrderedAndEndsAtMax) {
  LatencyHistogram h;
  std::mt19937_64 rng(1);
  std::exponential_distribution<double> dist(1e-5);
  for (int i = 0; i < 20000; ++i) h.Record(static_cast<uint64_t>(dist(rng)) + 1);
  const auto d = h.PercentileDistribution();
  ASSERT_GE(d.size(), 3u);
  EXPECT_EQ(d.front().first, 0.0);
  EXPECT_EQ(d.back().first, 100.0);
  EXPECT_EQ(d.back().second, h.max());
  for (size_t i = 1; i < d.size(); ++i) {
    EXPECT_GT(d[i].first, d[i - 1].first);
    EXPECT_GE(d[i].second, d[i - 1].second);
  }
}

}  // namespace
}  // namespace meshkv::bench
