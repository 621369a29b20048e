// Bounding the log lines that remote peers can cause. A peer that repeats a refused request a
// thousand times a second must not write a thousand lines a second: the first few lines of each
// peer in a window are written, the rest are counted, and one summary line per peer says how
// many were left out. A cap over all peers bounds a flood from many addresses.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "clock.h"

namespace mpegcast {

/// Decides, per key (a peer's address), which log lines are written. Not thread-safe: one per
/// thread (the relay's service thread owns its instance).
class LogLimiter {
 public:
  /// At most `lines_per_key` lines per key and `lines_total` over all keys within each window of
  /// `window_ms`; at most `max_keys` keys are tracked (beyond that, new keys share one budget).
  /// `label` starts the summary lines ("peer" → "peer 1.2.3.4: 12 similar log lines suppressed in 10s").
  LogLimiter(size_t lines_per_key = 5, size_t lines_total = 100, int64_t window_ms = 10000, size_t max_keys = 4096,
             const char* label = "peer");

  /// True when a line for `key` may be written at `now_ms` (CLOCK_MONOTONIC ms); false counts it
  /// as suppressed. When a key's window ends with lines suppressed, the next call for that key
  /// (or flush()) first writes one notice: "<label> <key>: N similar log lines suppressed in 10s".
  bool allow(std::string_view key, int64_t now_ms);

  /// Writes the summaries of windows that ended and forgets idle keys (call about once a second).
  void flush(int64_t now_ms);

  /// Lines suppressed since start, over all keys.
  uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  struct Entry {
    int64_t window_start_ms = 0;
    size_t lines = 0;
    uint64_t suppressed = 0;
  };
  void close_window(const std::string& key, Entry& e);

  size_t lines_per_key_, lines_total_;
  int64_t window_ms_;
  size_t max_keys_;
  const char* label_;
  std::unordered_map<std::string, Entry> keys_;
  Entry total_;
  uint64_t suppressed_total_ = 0;
};

/// Writes the line when `limiter` allows one for `key`: MC_LOG_LIMITED(relay.peer_log, ip, LOG_WARN, "…", …).
#define MC_LOG_LIMITED(limiter, key, log_macro, ...)                        \
  do {                                                                      \
    if ((limiter).allow((key), ::mpegcast::now_ms())) log_macro(__VA_ARGS__); \
  } while (0)

}  // namespace mpegcast
