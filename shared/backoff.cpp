#include "backoff.h"

#include <algorithm>
#include <cmath>

namespace mpegcast {

Backoff::Backoff(int64_t initial_ms, int64_t max_ms, double factor, double jitter)
    : initial_ms_(initial_ms), max_ms_(max_ms), factor_(factor), jitter_(jitter), rng_(std::random_device{}()) {}

int64_t Backoff::next_delay_ms() {
  double base = static_cast<double>(initial_ms_) * std::pow(factor_, std::min(attempt_, 30));
  base = std::min(base, static_cast<double>(max_ms_));
  ++attempt_;
  std::uniform_real_distribution<double> dist(1.0 - jitter_, 1.0 + jitter_);
  return std::max<int64_t>(1, static_cast<int64_t>(base * dist(rng_)));
}

}  // namespace mpegcast
