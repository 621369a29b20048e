#include "latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace mpegcast::bench {
namespace {
constexpr uint64_t kLinear = 2048;       // exact 1 µs buckets below this
constexpr uint64_t kSubBuckets = 1024;   // per power of two above
constexpr unsigned kMaxShift = 27;       // 2048 << 26 .. : up to 2^37 µs
constexpr size_t kBuckets = kLinear + kMaxShift * kSubBuckets;
}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

size_t LatencyHistogram::index_of(uint64_t us) {
  if (us < kLinear) return static_cast<size_t>(us);
  const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(us));  // >= 11
  const unsigned shift = msb - 10;                                       // >= 1
  if (shift > kMaxShift) return kBuckets - 1;
  const uint64_t sub = us >> shift;  // 1024..2047
  return static_cast<size_t>(kLinear + (shift - 1) * kSubBuckets + (sub - kSubBuckets));
}

double LatencyHistogram::midpoint_of(size_t index) {
  if (index < kLinear) return static_cast<double>(index);
  const size_t k = index - kLinear;
  const unsigned shift = static_cast<unsigned>(k / kSubBuckets) + 1;
  const uint64_t sub = k % kSubBuckets + kSubBuckets;
  const double low = static_cast<double>(sub << shift);
  const double width = static_cast<double>(uint64_t{1} << shift);
  return low + (width - 1) / 2.0;
}

void LatencyHistogram::record(int64_t us) {
  if (us < 0) us = 0;
  ++buckets_[index_of(static_cast<uint64_t>(us))];
  if (count_ == 0 || us > max_us_) max_us_ = us;
  if (count_ == 0 || us < min_us_) min_us_ = us;
  ++count_;
  sum_us_ += static_cast<uint64_t>(us);
}

void LatencyHistogram::reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = sum_us_ = 0;
  max_us_ = min_us_ = 0;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  if (other.count_) {
    max_us_ = count_ ? std::max(max_us_, other.max_us_) : other.max_us_;
    min_us_ = count_ ? std::min(min_us_, other.min_us_) : other.min_us_;
  }
  count_ += other.count_;
  sum_us_ += other.sum_us_;
}

double LatencyHistogram::percentile_us(double q) const {
  if (count_ == 0) return 0.0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {  // bounded: kBuckets
    seen += buckets_[i];
    if (seen >= rank) return std::min(midpoint_of(i), static_cast<double>(max_us_));
  }
  return static_cast<double>(max_us_);
}

}  // namespace mpegcast::bench
