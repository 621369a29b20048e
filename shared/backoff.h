// Exponential backoff with jitter for reconnect loops.
#pragma once
#include <cstdint>
#include <random>

namespace mpegcast {

/// Delay sequence initial_ms, initial_ms*factor, … capped at max_ms, each multiplied by a
/// random factor in [1 - jitter, 1 + jitter] so that many clients do not reconnect in step.
class Backoff {
 public:
  explicit Backoff(int64_t initial_ms = 250, int64_t max_ms = 10000, double factor = 2.0, double jitter = 0.2);
  /// The next delay in ms; advances the sequence.
  int64_t next_delay_ms();
  /// Back to initial_ms (call after a connection that worked).
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  int64_t initial_ms_, max_ms_;
  double factor_, jitter_;
  int attempt_ = 0;
  std::minstd_rand rng_;
};

}  // namespace mpegcast
