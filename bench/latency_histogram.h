// A fixed-size latency histogram: record() never allocates.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mpegcast::bench {

/// Histogram of durations in microseconds, allocated once at construction.
///
/// Buckets are 1 µs wide from 0 to 2047 µs, then 1024 buckets per power of two (relative
/// width < 0.1 %, i.e. under 1 µs per ms) up to 2^37 µs (~38 h); larger values land in the last
/// bucket. The exact minimum and maximum are kept besides.
class LatencyHistogram {
 public:
  LatencyHistogram();

  /// Adds one sample of `us` microseconds (negative values count as 0). O(1), no allocation.
  void record(int64_t us);
  /// Forgets every sample (keeps the storage).
  void reset();
  /// Adds the samples of `other`.
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  /// The smallest value v (µs, bucket midpoint) such that at least `q` (0..1) of the samples are
  /// <= v; 0 when empty.
  double percentile_us(double q) const;
  /// Exact largest / smallest sample in µs (0 when empty).
  int64_t max_us() const { return count_ ? max_us_ : 0; }
  int64_t min_us() const { return count_ ? min_us_ : 0; }
  /// Mean of the samples in µs (0 when empty).
  double mean_us() const { return count_ ? static_cast<double>(sum_us_) / static_cast<double>(count_) : 0.0; }

 private:
  static size_t index_of(uint64_t us);
  static double midpoint_of(size_t index);
  std::vector<uint32_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_us_ = 0;
  int64_t max_us_ = 0;
  int64_t min_us_ = 0;
};

}  // namespace mpegcast::bench
