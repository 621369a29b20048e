// Monotonic time helpers.
#pragma once
#include <cstdint>
#include <ctime>

namespace mpegcast {

/// CLOCK_MONOTONIC in milliseconds.
inline int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

/// CLOCK_MONOTONIC_COARSE in milliseconds: the same clock as now_ms(), up to one kernel tick
/// (1–10 ms) behind, and cheaper to read (no TSC read in the vDSO). For per-write bookkeeping
/// such as "last progress" times that are compared in seconds.
inline int64_t coarse_now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

/// CLOCK_MONOTONIC in microseconds.
inline int64_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

/// Wall clock (CLOCK_REALTIME) in seconds since the epoch, for "connected since" fields.
inline int64_t wall_time_s() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace mpegcast
